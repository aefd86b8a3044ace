using PagedAttention.Text.Tokenization;

namespace PagedAttention.Tests.Tokenization;

/// <summary>API behaviour on the real files: config properties, vocab lookups, streaming of split characters, regex fallback.</summary>
public sealed class TokenizerApiTests
{
    [Fact]
    public void DirectoryLoadReadsTokenizerConfig()
    {
        var qwen = TokenizerFixtures.Get("qwen3");
        Assert.Equal("<|im_end|>", qwen.EosToken);
        Assert.NotNull(qwen.ChatTemplate);
        Assert.Contains("<|im_start|>", qwen.ChatTemplate);
        Assert.Equal(151645, qwen.EosTokenId);
        var llama2 = TokenizerFixtures.Get("llama2");
        Assert.Equal("<s>", llama2.BosToken);
        Assert.Equal(1, llama2.BosTokenId);
        Assert.Null(llama2.ChatTemplate); // this config has no chat_template
    }

    [Fact]
    public void VocabLookupsRoundTrip()
    {
        var tok = TokenizerFixtures.Get("llama3");
        Assert.Equal(128256, tok.VocabSize);
        Assert.Equal(9906, tok.TokenToId("Hello"));
        Assert.Equal("Ġworld", tok.IdToToken(1917));
        Assert.Equal(128000, tok.TokenToId("<|begin_of_text|>"));
        Assert.True(tok.IsSpecialToken(128000));
        Assert.Null(tok.TokenToId("definitely-not-a-token"));
        Assert.Null(tok.IdToToken(-1));
        Assert.Null(tok.IdToToken(10_000_000));
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    [InlineData("llama2")]
    [InlineData("gemma3")]
    public void StreamingNeverEmitsHalfAnEmoji(string name)
    {
        var tok = TokenizerFixtures.Get(name);
        const string text = "ok 👨‍👩‍👧‍👦🇺🇸 🤖 done";
        int[] ids = tok.Encode(text, addSpecialTokens: false);
        var dec = tok.CreateDecoder();
        var pieces = ids.Select(dec.Append).ToList();
        pieces.Add(dec.Flush());
        Assert.All(pieces, p => Assert.DoesNotContain('\uFFFD', p));
        Assert.Equal(tok.Decode(ids), string.Concat(pieces));
        // Where some token holds only part of a char (byte-level or byte-fallback pieces), output must have been held back.
        if (ids.Any(id => tok.Decode([id]).Contains('\uFFFD')))
            Assert.True(ids.Length > pieces.Count(p => p.Length > 0), "some tokens should have been held back until their char completed");
    }

    [Fact]
    public void FlushReturnsIncompleteBytesAsDecodeDoes()
    {
        var tok = TokenizerFixtures.Get("llama2-real");
        int[] ids = [tok.TokenToId("<0xF0>")!.Value, tok.TokenToId("<0x9F>")!.Value];
        var dec = tok.CreateDecoder();
        Assert.Equal("", dec.Append(ids[0]));
        Assert.Equal("", dec.Append(ids[1]));
        Assert.Equal(tok.Decode(ids), dec.Flush());
    }

    [Theory]
    [InlineData(ByteLevelFamilyMatcher.Llama3Pattern)]
    [InlineData(ByteLevelFamilyMatcher.QwenPattern)]
    [InlineData(PatternMatchers.Gpt2Pattern)]
    public void HandWrittenSplittersAgreeWithTranslatedRegexOnBmpText(string pattern)
    {
        var fast = ByteLevelFamilyMatcher.TryCreate(pattern)!;
        var regex = PatternMatchers.RegexOnly(pattern);
        string texts = File.ReadAllText(Path.Combine(TokenizerFixtures.RepoRoot(), "tools", "tokenizer-goldens", "texts.json"));
        foreach (string t in System.Text.Json.JsonSerializer.Deserialize<string[]>(texts)!)
        {
            if (t.Any(char.IsSurrogate)) continue; // .NET regex treats surrogate halves as Cs: the known difference
            var a = new List<(int, int)>();
            var b = new List<(int, int)>();
            fast.FindMatches(t, a);
            regex.FindMatches(t, b);
            Assert.True(a.SequenceEqual(b), $"split differs on {System.Text.Json.JsonSerializer.Serialize(t)}");
        }
    }

    [Theory]
    [InlineData("a++b", "(?>a+)b")]
    [InlineData(@"\p{L}*+x", @"(?>\p{L}*)x")]
    [InlineData("(ab)?+c", "(?>(ab)?)c")]
    [InlineData(@"[^\s]{1,3}+", @"(?>[^\s]{1,3})")]
    [InlineData(@"\x{1F600}", @"\uD83D\uDE00")]
    [InlineData(@"a+?b", @"a+?b")]
    public void TranslatesOnigurumaSyntax(string onig, string net) => Assert.Equal(net, PatternTranslator.Translate(onig));
}
