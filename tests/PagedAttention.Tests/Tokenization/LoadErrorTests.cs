using PagedAttention.Text.Tokenization;

namespace PagedAttention.Tests.Tokenization;

/// <summary>A bad tokenizer.json fails with one exception type whose message names the component.</summary>
public sealed class LoadErrorTests
{
    private const string Model = """{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}""";

    private static string Json(string extra) => "{\"model\":" + Model + (extra.Length > 0 ? "," + extra : "") + "}";

    [Theory]
    [InlineData("\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"ByteLevel\"},{\"type\":\"Foo\"}]}", "pre_tokenizer.pretokenizers[1]: unknown type 'Foo'")]
    [InlineData("\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{\"type\":\"Bar\"}]}", "normalizer.normalizers[1]: unknown type 'Bar'")]
    [InlineData("\"decoder\":{\"type\":\"Strip\",\"content\":\" \"}", "decoder: missing 'start'")]
    [InlineData("\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}}],\"special_tokens\":{}}", "post_processor.single[0]: special token '<s>' is missing")]
    [InlineData("\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\"}", "pre_tokenizer.pattern: cannot compile regex")]
    [InlineData("\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"Sideways\"}", "pre_tokenizer.behavior: unknown behavior 'Sideways'")]
    [InlineData("\"added_tokens\":[{\"content\":\"<s>\"}]", "added_tokens[0]: missing 'id'")]
    public void NamesTheFailingComponent(string extra, string expected)
    {
        var e = Assert.Throws<TokenizerLoadException>(() => Tokenizer.FromJson(Json(extra)));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", "model: unsupported model type 'Unigram'")]
    [InlineData("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b\"]}}", "model.merges[0]: token 'b' is not in the vocab")]
    [InlineData("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[[\"a\"]]}}", "model.merges[0]: expected")]
    [InlineData("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"x\"}}}", "model.vocab['a']")]
    [InlineData("{\"normalizer\":null}", "model: missing 'model'")]
    [InlineData("{not json", "invalid JSON")]
    [InlineData("[]", "root is not a JSON object")]
    public void BadModelOrJson(string json, string expected)
    {
        var e = Assert.Throws<TokenizerLoadException>(() => Tokenizer.FromJson(json));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void MissingFileIsALoadError()
    {
        var e = Assert.Throws<TokenizerLoadException>(() => Tokenizer.FromFile(Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid())));
        Assert.Contains("tokenizer.json not found", e.Message);
    }

    [Fact]
    public void PublicEntryPointsCheckArguments()
    {
        Assert.Throws<ArgumentNullException>(() => Tokenizer.FromFile(null!));
        Assert.Throws<ArgumentException>(() => Tokenizer.FromFile(""));
        var tok = Tokenizer.FromJson(Json(""));
        Assert.Throws<ArgumentNullException>(() => tok.Encode(null!));
        Assert.Throws<ArgumentNullException>(() => tok.TokenToId(null!));
    }
}
