using System.Text.Json.Nodes;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;

namespace PagedAttention.Tests.Loading;

/// <summary>config.json / generation_config.json problems: sizes out of range, wrong JSON kinds, special files, token ids.</summary>
public sealed class ConfigLoadingTests : IDisposable
{
    private readonly ScratchModelDir _m = ScratchModelDir.Llama();

    public void Dispose() => _m.Dispose();

    private ModelLoadException Load()
    {
        var e = Assert.Throws<ModelLoadException>(() => { using var model = LlamaModel.Load(_m.Dir); });
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        return e;
    }

    [Theory]
    [InlineData("num_hidden_layers", 2147483647, 1024)]
    [InlineData("max_position_embeddings", 2147483647, 16777216)]
    [InlineData("head_dim", 1073741824, 1024)]
    [InlineData("hidden_size", 2147483647, 65536)]
    [InlineData("intermediate_size", 1000000000, 262144)]
    [InlineData("num_attention_heads", 65536, 1024)]
    [InlineData("num_key_value_heads", 4096, 1024)]
    [InlineData("vocab_size", 2147483647, 4194304)]
    public void SizesAboveTheLimit_NameTheFieldTheValueAndTheLimit(string field, long value, long limit)
    {
        _m.EditJson("config.json", c => c[field] = value);
        var e = Load();
        Assert.Contains("config.json", e.Message);
        Assert.Contains($"'{field}'", e.Message);
        Assert.Contains(value.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
        Assert.Contains(limit.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
        Assert.DoesNotContain("-", e.Message.Replace(_m.Dir, "", StringComparison.Ordinal).Replace("pa-load-", "", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("num_hidden_layers", 1024, "num_hidden_layers")]
    [InlineData("vocab_size", 4194304, "vocab_size")]
    [InlineData("hidden_size", 65536, "hidden_size")]
    public void SizesWithinTheLimit_AreCheckedAgainstTheTensorsPresent(string field, int value, string expected)
    {
        _m.EditJson("config.json", c =>
        {
            c[field] = value;
            if (field == "hidden_size") c["head_dim"] = 16;
        });
        var e = Load();
        Assert.Contains(expected, e.Message);
        Assert.Contains(value.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public void GenerationConfigThatIsAList()
    {
        File.WriteAllText(_m["generation_config.json"], "[]");
        var e = Load();
        Assert.Contains("generation_config.json", e.Message);
        Assert.Contains("not a JSON object", e.Message);
    }

    [Theory]
    [InlineData("/dev/zero")]
    [InlineData("/dev/null")]
    public void ConfigSymlinkedToASpecialFile(string target)
    {
        if (!File.Exists(target)) return;
        _m.Symlink("config.json", target);
        var e = Load();
        Assert.Contains("config.json", e.Message);
        Assert.Contains("regular file", e.Message);
    }

    [Fact]
    public void GenerationConfigSymlinkedToDevZero()
    {
        if (!File.Exists("/dev/zero")) return;
        _m.Symlink("generation_config.json", "/dev/zero");
        Assert.Contains("generation_config.json", Load().Message);
    }

    [Fact]
    public void ConfigSymlinkLoop()
    {
        File.Delete(_m["config.json"]);
        File.CreateSymbolicLink(_m["config.json"], _m["loop.json"]);
        File.CreateSymbolicLink(_m["loop.json"], _m["config.json"]);
        var e = Load();
        Assert.Contains("config.json", e.Message);
        Assert.Contains("link", e.Message);
    }

    [Fact]
    public void DanglingSymlinkedConfig()
    {
        _m.Symlink("config.json", _m["nowhere.json"]);
        Assert.Contains("config.json", Load().Message);
    }

    [Fact]
    public void HugeConfig_IsRejectedBeforeReading()
    {
        using (var f = File.Create(_m["config.json"])) f.SetLength(17L << 20); // sparse: costs no disk
        var e = Load();
        Assert.Contains("config.json", e.Message);
        Assert.Contains("16 MiB", e.Message);
    }

    [Fact]
    public void SymlinkedConfigToARegularFile_Loads()
    {
        File.Move(_m["config.json"], _m["real-config.json"]);
        File.CreateSymbolicLink(_m["config.json"], "real-config.json");
        using var model = LlamaModel.Load(_m.Dir);
        Assert.Equal(2, model.Config.NumLayers);
    }

    [Theory]
    [InlineData("config.json", "eos_token_id", "[99999]")]
    [InlineData("config.json", "eos_token_id", "-1")]
    [InlineData("config.json", "bos_token_id", "384")]
    [InlineData("config.json", "pad_token_id", "-1")]
    [InlineData("generation_config.json", "eos_token_id", "[99999]")]
    [InlineData("generation_config.json", "eos_token_id", "[2, -1]")]
    [InlineData("generation_config.json", "bos_token_id", "99999")]
    [InlineData("generation_config.json", "pad_token_id", "[5000]")]
    public void TokenIdsOutsideTheVocabulary_FailTheLoad(string file, string field, string value)
    {
        _m.EditJson(file, c => c[field] = JsonNode.Parse(value));
        var e = Load();
        Assert.Contains(file, e.Message);
        Assert.Contains($"'{field}'", e.Message);
        Assert.Contains("384", e.Message); // the vocabulary size
    }

    [Fact]
    public async Task EosOutsideTheVocabulary_FailsLoadAsync_NotALaterRequest()
    {
        _m.EditJson("generation_config.json", c => c["eos_token_id"] = new JsonArray(99999));
        var e = await Assert.ThrowsAsync<ModelLoadException>(() => LlmEngine.LoadAsync(new EngineOptions { ModelPath = _m.Dir, NumKvBlocks = 8 }));
        Assert.Contains("eos_token_id", e.Message);
    }

    [Theory]
    [InlineData("rope_theta", "\"x\"")]
    [InlineData("rms_norm_eps", "1e999")]
    [InlineData("rope_theta", "-1")]
    [InlineData("tie_word_embeddings", "\"yes\"")]
    public void OddScalarFields_AreModelLoadExceptions(string field, string raw)
    {
        var text = File.ReadAllText(_m["config.json"]);
        var cfg = JsonNode.Parse(text)!.AsObject();
        cfg.Remove(field);
        cfg.Remove("rope_parameters");
        string json = cfg.ToJsonString();
        File.WriteAllText(_m["config.json"], json[..^1] + $",\"{field}\":{raw}}}");
        var e = Load();
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void InvalidUtf8InConfig()
    {
        var bytes = File.ReadAllBytes(_m["config.json"]);
        int at = Array.IndexOf(bytes, (byte)'L'); // inside "LlamaForCausalLM"
        bytes[at] = 0xC3; // a lead byte followed by an ASCII byte
        File.WriteAllBytes(_m["config.json"], bytes);
        var e = Load();
        Assert.Contains("config.json", e.Message);
        Assert.Contains("UTF-8", e.Message);
    }
}
