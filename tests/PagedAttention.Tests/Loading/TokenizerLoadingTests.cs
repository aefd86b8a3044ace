using System.Text.Json.Nodes;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.Tests.Loading;

/// <summary>
/// Every bad tokenizer.json / tokenizer_config.json is a <see cref="TokenizerLoadException"/> naming the JSON path, which
/// the loader wraps into a <see cref="ModelLoadException"/> naming the file.
/// </summary>
public sealed class TokenizerLoadingTests : IDisposable
{
    private readonly ScratchModelDir _m = ScratchModelDir.Default();

    public void Dispose() => _m.Dispose();

    private ModelLoadException LoadTokenizer(string file)
    {
        var e = Assert.Throws<ModelLoadException>(() => EngineLoader.LoadTokenizer(_m.Dir));
        Assert.Equal(_m[file], e.FilePath);
        Assert.Contains(file, e.Message);
        Assert.IsType<TokenizerLoadException>(e.InnerException);
        return e;
    }

    private void Edit(string file, string path, string? rawValue, bool remove = false)
    {
        var root = JsonNode.Parse(File.ReadAllText(_m[file]))!;
        JsonEdit.Set(root, path, rawValue is null ? null : JsonNode.Parse(rawValue), remove);
        File.WriteAllText(_m[file], root.ToJsonString());
    }

    [Theory]
    [InlineData("/model/vocab/<|bos|>", "2147483647", "model.vocab")]
    [InlineData("/model/vocab/<|bos|>", "4194304", "model.vocab")]
    [InlineData("/model/vocab/<|bos|>", "1.5", "model.vocab")]
    [InlineData("/model/merges/0", "5", "model.merges[0]")]
    [InlineData("/model/merges/0", "[\"a\", 5]", "model.merges[0]")]
    [InlineData("/model/merges", "{}", "model.merges")]
    [InlineData("/model/merges", "\"Ġ t\"", "model.merges")]
    [InlineData("/model", "[]", "model")]
    [InlineData("/model", "5", "model")]
    [InlineData("/model/type", "5", "model.type")]
    [InlineData("/model/unk_token", "5", "model.unk_token")]
    [InlineData("/model/dropout", "\"x\"", "model.dropout")]
    [InlineData("/added_tokens/0/id", "\"x\"", "added_tokens[0].id")]
    [InlineData("/added_tokens/0/id", "2147483647", "added_tokens[0].id")]
    [InlineData("/added_tokens/0/id", "-1", "added_tokens[0].id")]
    [InlineData("/added_tokens/0", "5", "added_tokens[0]")]
    [InlineData("/added_tokens/0/content", "[]", "added_tokens[0].content")]
    [InlineData("/added_tokens", "{}", "added_tokens")]
    [InlineData("/post_processor/special_tokens/<|bos|>/ids", "[\"a\"]", "post_processor.special_tokens['<|bos|>'].ids")]
    [InlineData("/post_processor/special_tokens/<|bos|>/ids", "[2147483647]", "post_processor.special_tokens['<|bos|>'].ids")]
    [InlineData("/post_processor/special_tokens/<|bos|>/ids", "5", "post_processor.special_tokens['<|bos|>'].ids")]
    [InlineData("/post_processor/special_tokens/<|bos|>", "5", "post_processor.special_tokens['<|bos|>']")]
    [InlineData("/post_processor/special_tokens", "[]", "post_processor.special_tokens")]
    [InlineData("/post_processor/single", "5", "post_processor.single")]
    [InlineData("/post_processor/single/0", "5", "post_processor.single[0]")]
    [InlineData("/post_processor/single/0/SpecialToken", "5", "post_processor.single[0]")]
    [InlineData("/pre_tokenizer/pretokenizers/1/add_prefix_space", "5", "pre_tokenizer.pretokenizers[1].add_prefix_space")]
    [InlineData("/pre_tokenizer/pretokenizers/0/pattern", "5", "pre_tokenizer.pretokenizers[0].pattern")]
    [InlineData("/pre_tokenizer/pretokenizers", "5", "pre_tokenizer.pretokenizers")]
    [InlineData("/pre_tokenizer", "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\"}", "pre_tokenizer.pattern")]
    [InlineData("/normalizer", "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"(\"},\"content\":\"x\"}", "normalizer.pattern")]
    [InlineData("/normalizer", "{\"type\":\"Sequence\",\"normalizers\":5}", "normalizer.normalizers")]
    [InlineData("/decoder", "{\"type\":\"Strip\",\"content\":\" \",\"start\":-1,\"stop\":0}", "decoder.start")]
    [InlineData("/decoder", "[]", "decoder")]
    [InlineData("/post_processor", "{\"type\":\"RobertaProcessing\",\"cls\":[\"<s>\", \"x\"],\"sep\":[\"</s>\", 2]}", "post_processor.cls")]
    public void MutatedTokenizerJson_IsAModelLoadException_NamingTheFileAndThePath(string path, string value, string jsonPath)
    {
        Edit("tokenizer.json", path, value);
        var e = LoadTokenizer("tokenizer.json");
        Assert.Contains(jsonPath, e.Message);
    }

    [Theory]
    [InlineData("/model/vocab", "model: missing 'vocab'")]
    [InlineData("/post_processor/single", "post_processor: missing 'single'")]
    public void MissingNodes(string path, string expected)
    {
        Edit("tokenizer.json", path, null, remove: true);
        Assert.Contains(expected, LoadTokenizer("tokenizer.json").Message);
    }

    [Fact]
    public void VocabIdNearIntMax_DoesNotAllocate()
    {
        Edit("tokenizer.json", "/model/vocab/<|bos|>", "2147483647");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = LoadTokenizer("tokenizer.json");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 256L << 20, "allocated too much");
        Assert.Contains("4194304", e.Message); // the limit
    }

    [Fact]
    public void HugeTokenizerJson_IsRejectedBeforeReading()
    {
        using (var f = File.Create(_m["tokenizer.json"])) f.SetLength(129L << 20); // sparse
        Assert.Contains("128 MiB", LoadTokenizer("tokenizer.json").Message);
    }

    [Fact]
    public void TokenizerJsonSymlinkedToDevZero()
    {
        if (!File.Exists("/dev/zero")) return;
        _m.Symlink("tokenizer.json", "/dev/zero");
        Assert.Contains("regular file", LoadTokenizer("tokenizer.json").Message);
    }

    [Fact]
    public void TokenizerJsonSymlinkLoop()
    {
        File.Delete(_m["tokenizer.json"]);
        File.CreateSymbolicLink(_m["tokenizer.json"], _m["t2.json"]);
        File.CreateSymbolicLink(_m["t2.json"], _m["tokenizer.json"]);
        Assert.Contains("link", LoadTokenizer("tokenizer.json").Message);
    }

    [Fact]
    public void SymlinkedTokenizerFiles_Load()
    {
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            File.Move(_m[f], _m["blob-" + f]);
            File.CreateSymbolicLink(_m[f], "blob-" + f);
        }
        var tok = EngineLoader.LoadTokenizer(_m.Dir)!;
        Assert.Equal("<|eos|>", tok.EosToken);
        Assert.NotNull(tok.ChatTemplate);
    }

    [Theory]
    [InlineData("[{\"template\": \"x\"}]", "chat_template[0].name")]
    [InlineData("[{\"name\": \"default\"}]", "chat_template[0].template")]
    [InlineData("[{\"name\": 5, \"template\": \"x\"}]", "chat_template[0].name")]
    [InlineData("[{\"name\": \"default\", \"template\": \"x\"}, {\"name\": \"tool_use\", \"template\": []}]", "chat_template[1].template")]
    [InlineData("[\"x\"]", "chat_template[0]")]
    [InlineData("[5]", "chat_template[0]")]
    [InlineData("5", "chat_template")]
    [InlineData("{\"default\": \"x\"}", "chat_template")]
    public void OddChatTemplates_NameTokenizerConfig(string value, string jsonPath)
    {
        Edit("tokenizer_config.json", "/chat_template", value);
        var e = LoadTokenizer("tokenizer_config.json");
        Assert.Contains(jsonPath, e.Message);
    }

    [Theory]
    [InlineData("/bos_token", "5", "bos_token")]
    [InlineData("/eos_token", "[]", "eos_token")]
    public void OddSpecialTokenEntries_NameTokenizerConfig(string path, string value, string jsonPath)
    {
        Edit("tokenizer_config.json", path, value);
        Assert.Contains(jsonPath, LoadTokenizer("tokenizer_config.json").Message);
    }

    [Fact]
    public void TokenizerConfigThatIsNotAnObject()
    {
        File.WriteAllText(_m["tokenizer_config.json"], "[1, 2]");
        Assert.Contains("not a JSON object", LoadTokenizer("tokenizer_config.json").Message);
    }

    [Fact]
    public async Task LoadAsync_WrapsTheTokenizerProblem_NamingTheFileAndPath()
    {
        Edit("tokenizer.json", "/post_processor/single", "5");
        var e = await Assert.ThrowsAsync<ModelLoadException>(() => LlmEngine.LoadAsync(new EngineOptions { ModelPath = _m.Dir, NumKvBlocks = 8 }));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("post_processor.single", e.Message);
    }

    [Fact]
    public void ValidListOfNamedTemplates_StillLoads()
    {
        Edit("tokenizer_config.json", "/chat_template", "[{\"name\": \"default\", \"template\": \"D\"}, {\"name\": \"tool_use\", \"template\": \"T\"}]");
        var tok = EngineLoader.LoadTokenizer(_m.Dir)!;
        Assert.StartsWith("[", tok.ChatTemplate);
    }
}
