using PagedAttention.Text.Tokenization;

namespace PagedAttention.Tests.Tokenization;

/// <summary>
/// Components the real files do not use (Metaspace, Digits, Whitespace, Split behaviours, lstrip/rstrip, Lowercase/Strip,
/// unk fusing). Expected values follow the Rust library's documented algorithm for each component, on a toy vocab.
/// </summary>
public sealed class ComponentTests
{
    private static Tokenizer Make(string vocabJson, string rest, string model = "") =>
        Tokenizer.FromJson("{\"model\":{\"type\":\"BPE\",\"vocab\":" + vocabJson + ",\"merges\":[]" + model + "}" + (rest.Length > 0 ? "," + rest : "") + "}");

    private static string Toks(Tokenizer t, string text) => string.Join("|", t.Encode(text, false).Select(i => t.IdToToken(i)));

    // Vocab of single chars and a few words, so the split is visible in the token strings.
    private const string Chars = """{"<unk>":0,"▁":1,"a":2,"b":3,"c":4,"▁a":5,"▁b":6,"1":7,"2":8,"3":9,"12":10," ":11,"x":12,"<t>":13,"A":14,"-":15}""";

    [Fact]
    public void MetaspacePrependFirstOnlyAtInputStart()
    {
        var t = Make(Chars, """
            "pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true},
            "added_tokens":[{"id":13,"content":"<t>","special":true,"normalized":false}]
            """, ",\"unk_token\":\"<unk>\",\"ignore_merges\":true");
        Assert.Equal("▁a|▁b", Toks(t, "a b"));
        Assert.Equal("<t>|a|▁b", Toks(t, "<t>a b")); // not at offset 0 after the added token: no prefix
    }

    [Fact]
    public void MetaspaceDecoderDropsFirstPrefix()
    {
        var t = Make(Chars, """
            "pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":false},
            "decoder":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":false}
            """);
        Assert.Equal("a b", t.Decode(t.Encode("a b", false)));
    }

    [Fact]
    public void DigitsIndividualAndContiguous()
    {
        string v = """{"1":0,"2":1,"3":2,"12":3,"123":4,"a":5}""";
        Assert.Equal("1|2|3|a", Toks(Make(v, "\"pre_tokenizer\":{\"type\":\"Digits\",\"individual_digits\":true}", ",\"ignore_merges\":true"), "123a"));
        Assert.Equal("123|a", Toks(Make(v, "\"pre_tokenizer\":{\"type\":\"Digits\",\"individual_digits\":false}", ",\"ignore_merges\":true"), "123a"));
    }

    [Theory]
    [InlineData("Removed", "a-b--c", "a|b|c")]
    [InlineData("Isolated", "a-b--c", "a|-|b|-|-|c")]
    [InlineData("MergedWithPrevious", "a-b--c", "a-|b-|-|c")]
    [InlineData("MergedWithNext", "a-b--c", "a|-b|-|-c")]
    [InlineData("Contiguous", "a--b", "a|--|b")]
    public void SplitBehaviours(string behavior, string input, string expected)
    {
        // ignore_merges + whole-word vocab entries: each split maps to one token, so the ids show the boundaries.
        string[] words = ["a", "b", "c", "-", "a-", "b-", "-b", "-c", "--"];
        string vocab = "{" + string.Join(",", words.Select((w, i) => $"\"{w}\":{i}")) + "}";
        var t = Make(vocab, "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"" + behavior + "\",\"invert\":false}",
            ",\"ignore_merges\":true");
        Assert.Equal(expected, Toks(t, input));
    }

    [Fact]
    public void SplitInvertKeepsMatchesAsContent()
    {
        string vocab = """{"ab":0,"cd":1," ":2,"a":3,"b":4,"c":5,"d":6}""";
        var t = Make(vocab, "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\w+\"},\"behavior\":\"Removed\",\"invert\":true}", ",\"ignore_merges\":true");
        Assert.Equal("ab|cd", Toks(t, "ab cd"));
    }

    [Fact]
    public void AddedTokenLStripRStripAndSingleWord()
    {
        var t = Make(Chars, """
            "added_tokens":[{"id":13,"content":"<t>","special":false,"lstrip":true,"rstrip":true,"normalized":false},
                            {"id":16,"content":"xx","special":false,"single_word":true,"normalized":false}]
            """);
        Assert.Equal("a|<t>|b", Toks(t, "a  <t>  b"));
        Assert.Equal("a| |xx| |b", Toks(t, "a xx b"));
        Assert.Equal("a|x|x|b", Toks(t, "axxb")); // inside a word single_word does not match
    }

    [Fact]
    public void UnkFusingAndByteFallback()
    {
        var fused = Make(Chars, "", ",\"unk_token\":\"<unk>\",\"fuse_unk\":true");
        Assert.Equal("a|<unk>|b", Toks(fused, "aéèb"));
        var unfused = Make(Chars, "", ",\"unk_token\":\"<unk>\",\"fuse_unk\":false");
        Assert.Equal("a|<unk>|<unk>|b", Toks(unfused, "aéèb"));
    }

    [Fact]
    public void LowercaseStripAndNfkcNormalizers()
    {
        var t = Make(Chars, "\"normalizer\":" + """{"type":"Sequence","normalizers":[{"type":"Strip","strip_left":true,"strip_right":true},{"type":"Lowercase"},{"type":"NFKC"}]}""");
        Assert.Equal("a|b|c", Toks(t, "  AＢc \t"));
    }

    [Fact]
    public void WhitespacePreTokenizerDropsSpaces()
    {
        var t = Make(Chars, "\"pre_tokenizer\":{\"type\":\"Whitespace\"}");
        Assert.Equal("a|b|-", Toks(t, " a  b-"));
    }
}
