using System.Text;
using PagedAttention.AI.Constraints;

namespace PagedAttention.Tests.Constraints;

public class RegexTests
{
    private static bool Full(string pattern, string text)
    {
        var x = new ExprSet();
        int e = RegexLowering.Raw(x, RegexParser.Parse(pattern) with { AnchoredStart = true, AnchoredEnd = true });
        return x.Matches(e, Encoding.UTF8.GetBytes(text));
    }

    private static bool Search(string pattern, string text)
    {
        var x = new ExprSet();
        return x.Matches(RegexLowering.Raw(x, RegexParser.Parse(pattern)), Encoding.UTF8.GetBytes(text));
    }

    [Theory]
    [InlineData("abc", "abc", true)]
    [InlineData("abc", "abd", false)]
    [InlineData("a|bc", "bc", true)]
    [InlineData("a*", "", true)]
    [InlineData("a+", "", false)]
    [InlineData("a{2,3}", "aaa", true)]
    [InlineData("a{2,3}", "aaaa", false)]
    [InlineData("a{2,}", "aaaaaaa", true)]
    [InlineData("a{2}", "aa", true)]
    [InlineData("x{", "x{", true)]
    [InlineData("\\d+\\.\\d{2}", "12.50", true)]
    [InlineData("[a-c]+", "abcabc", true)]
    [InlineData("[^a-c]", "d", true)]
    [InlineData("[^a-c]", "b", false)]
    [InlineData("[^a]", "é", true)]
    [InlineData("\\w+", "ab_9", true)]
    [InlineData("\\s", "\u00a0", true)]
    [InlineData("\\S", " ", false)]
    [InlineData(".", "\n", false)]
    [InlineData(".", "😀", true)]
    [InlineData("(?:ab)+", "abab", true)]
    [InlineData("(?<year>\\d{4})-\\d\\d", "2024-01", true)]
    [InlineData("[\\u0400-\\u04FF]+", "привет", true)]
    [InlineData("[\\u0400-\\u04FF]+", "hello", false)]
    [InlineData("\\uD83D\\uDE00", "😀", true)]
    [InlineData("[😀-😂]", "😁", true)]
    [InlineData("\\x41\\u0042", "AB", true)]
    [InlineData("a.*?b", "axxb", true)]
    [InlineData("[-a]", "-", true)]
    [InlineData("[a\\-z]", "-", true)]
    [InlineData("[\\d-]", "-", true)]
    public void FullMatch(string pattern, string text, bool expected) => Assert.Equal(expected, Full(pattern, text));

    [Theory]
    [InlineData("es", "x-es-y", true)]
    [InlineData("^es", "x-es", false)]
    [InlineData("es$", "xes", true)]
    [InlineData("es$", "esx", false)]
    [InlineData("^a|b$", "ab", true)]
    [InlineData("^a|b$", "xa", false)]
    [InlineData("^[a-z]+$", "abc", true)]
    [InlineData("^[a-z]+$", "ab1", false)]
    public void SearchSemantics(string pattern, string text, bool expected) => Assert.Equal(expected, Search(pattern, text));

    [Theory]
    [InlineData("(?=a)")]
    [InlineData("(?!a)")]
    [InlineData("(?<=a)b")]
    [InlineData("(?<!a)b")]
    [InlineData("(a)\\1")]
    [InlineData("\\bword")]
    [InlineData("\\p{L}")]
    [InlineData("a^b")]
    [InlineData("a$b")]
    [InlineData("(ab")]
    [InlineData("ab)")]
    [InlineData("*a")]
    [InlineData("[b-a]")]
    [InlineData("a{3,2}")]
    public void UnsupportedOrMalformed_IsRejectedClearly(string pattern)
    {
        var e = Assert.Throws<RegexParseException>(() => RegexParser.Parse(pattern));
        Assert.Contains(pattern, e.Message);
    }

    [Fact]
    public void Utf8Class_CompilesToExactEncodings()
    {
        // Every scalar value in a wide class, against the BCL's encoder: the class must match all of them and no
        // surrogate encoding (ED A0..BF xx).
        var x = new ExprSet();
        var set = CodepointSet.Of((0x70, 0x900), (0xD000, 0xE100), (0xFFF0, 0x10400), (0x10FFF0, 0x10FFFF));
        int e = Utf8Sequences.Compile(x, set);
        foreach (var (lo, hi) in new[] { (0x60, 0x920), (0xCFF0, 0xE110), (0xFFE0, 0x10410), (0x10FFE0, 0x10FFFF) })
            for (int cp = lo; cp <= hi; cp++)
            {
                if (cp is >= 0xD800 and <= 0xDFFF) continue;
                Assert.Equal(set.Contains(cp), x.Matches(e, Encoding.UTF8.GetBytes(char.ConvertFromUtf32(cp))));
            }
        Assert.False(x.Matches(e, [0xED, 0xA0, 0x80]));
        Assert.False(x.Matches(e, [0xC1, 0xBF])); // overlong
    }

    [Fact]
    public void JsonContent_EscapesWhatJsonMustEscape()
    {
        var x = new ExprSet();
        int e = RegexLowering.JsonContent(x, RegexParser.Parse("^a\"b\\\\c\\n$"));
        Assert.True(x.Matches(e, Encoding.UTF8.GetBytes("a\\\"b\\\\c\\n")));
        Assert.False(x.Matches(e, Encoding.UTF8.GetBytes("a\"b\\c\n")));
    }

    [Fact]
    public void LazyDfa_SharesStatesAndUsesByteClasses()
    {
        var x = new ExprSet();
        int e = RegexLowering.Raw(x, RegexParser.Parse("^[a-z]+[0-9]{2}$"));
        var dfa = new LexerDfa(x, [e]);
        Assert.True(dfa.ClassCount <= 4, $"classes {dfa.ClassCount}");
        var s = dfa.Start([0]);
        foreach (byte b in "abcdefgh"u8) s = dfa.Next(s, b);
        int states = dfa.StateCount;
        foreach (byte b in "xyz"u8) s = dfa.Next(s, b); // same class, same state: nothing new
        Assert.Equal(states, dfa.StateCount);
        s = dfa.Next(dfa.Next(s, (byte)'1'), (byte)'2');
        Assert.Equal([0], s.Accepting);
        Assert.False(s.CanContinue);
        Assert.True(dfa.Next(s, (byte)'3').IsDead);
    }
}
