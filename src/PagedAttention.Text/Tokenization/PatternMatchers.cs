using System.Text;
using System.Text.RegularExpressions;

namespace PagedAttention.Text.Tokenization;

/// <summary>Finds the non-overlapping matches of a Split pattern in a string (UTF-16 ranges, ascending).</summary>
internal interface IPatternMatcher
{
    void FindMatches(ReadOnlySpan<char> s, List<(int Start, int End)> matches);
}

internal static class PatternMatchers
{
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static IPatternMatcher ForRegex(string onigPattern) =>
        (IPatternMatcher?)ByteLevelFamilyMatcher.TryCreate(onigPattern) ?? new RegexMatcher(PatternTranslator.Compile(onigPattern));

    /// <summary>The .NET Regex path even for the patterns that have a hand-written matcher (tests compare the two).</summary>
    public static IPatternMatcher RegexOnly(string onigPattern) => new RegexMatcher(PatternTranslator.Compile(onigPattern));
}

internal sealed class RegexMatcher(Regex regex) : IPatternMatcher
{
    public void FindMatches(ReadOnlySpan<char> s, List<(int Start, int End)> matches)
    {
        foreach (var m in regex.EnumerateMatches(s)) matches.Add((m.Index, m.Index + m.Length));
    }
}

internal sealed class LiteralMatcher(string literal) : IPatternMatcher
{
    public string Literal => literal;

    public void FindMatches(ReadOnlySpan<char> s, List<(int Start, int End)> matches)
    {
        if (literal.Length == 0) return;
        int i = 0;
        while (true)
        {
            int j = s[i..].IndexOf(literal.AsSpan(), StringComparison.Ordinal);
            if (j < 0) break;
            i += j;
            matches.Add((i, i + literal.Length));
            i += literal.Length;
        }
    }
}

/// <summary>Each code point satisfying the predicate is one match (Rust's <c>impl Pattern for Fn(char) -&gt; bool</c>).</summary>
internal sealed class CharPredicateMatcher(Func<Rune, bool> predicate) : IPatternMatcher
{
    public void FindMatches(ReadOnlySpan<char> s, List<(int Start, int End)> matches)
    {
        for (int i = 0; i < s.Length;)
        {
            Rune.DecodeFromUtf16(s[i..], out Rune r, out int n);
            if (predicate(r)) matches.Add((i, i + n));
            i += n;
        }
    }
}
