using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;

namespace PagedAttention.Tests.Models;

/// <summary>Every corrupt or unsupported checkpoint gives a ModelLoadException naming the file, the tensor and the problem.</summary>
public sealed class BadCheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pa-bad-" + Guid.NewGuid().ToString("N"));

    public BadCheckpointTests()
    {
        Directory.CreateDirectory(_dir);
        foreach (var f in Directory.GetFiles(TestData.Model("llama")))
            File.Copy(f, Path.Combine(_dir, Path.GetFileName(f)));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Weights => Path.Combine(_dir, "model.safetensors");
    private string Config => Path.Combine(_dir, "config.json");

    private ModelLoadException Load()
    {
        var e = Assert.Throws<ModelLoadException>(() => { using var m = LlamaModel.Load(_dir); });
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        return e;
    }

    private (JsonObject Header, byte[] Data) ReadSafeTensors()
    {
        var bytes = File.ReadAllBytes(Weights);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n))!.AsObject();
        return (header, bytes[(8 + (int)n)..]);
    }

    private void WriteSafeTensors(JsonObject header, byte[] data) => WriteRaw(Encoding.UTF8.GetBytes(header.ToJsonString()), data);

    private void WriteRaw(byte[] header, byte[] data)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        File.WriteAllBytes(Weights, bytes);
    }

    private void EditConfig(Action<JsonObject> edit)
    {
        var cfg = JsonNode.Parse(File.ReadAllText(Config))!.AsObject();
        edit(cfg);
        File.WriteAllText(Config, cfg.ToJsonString());
    }

    [Fact]
    public void TruncatedFile()
    {
        File.WriteAllBytes(Weights, [1, 2, 3]);
        var e = Load();
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void TruncatedData()
    {
        var bytes = File.ReadAllBytes(Weights);
        File.WriteAllBytes(Weights, bytes[..(bytes.Length - 100)]);
        var e = Load();
        Assert.Contains("out of range", e.Message);
        Assert.NotNull(e.TensorName);
    }

    [Fact]
    public void HeaderLengthPastEnd()
    {
        var bytes = File.ReadAllBytes(Weights);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)bytes.Length * 4);
        File.WriteAllBytes(Weights, bytes);
        var e = Load();
        Assert.Contains("runs past the end", e.Message);
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public void MalformedHeaderJson()
    {
        var (_, data) = ReadSafeTensors();
        WriteRaw(Encoding.UTF8.GetBytes("{\"model.norm.weight\": {\"dtype\": \"F32\", "), data);
        Assert.Contains("malformed header JSON", Load().Message);
    }

    [Fact]
    public void OffsetsOutOfRange()
    {
        var (h, data) = ReadSafeTensors();
        h["model.norm.weight"]!["data_offsets"] = new JsonArray(data.Length - 4, data.Length + 252);
        WriteSafeTensors(h, data);
        var e = Load();
        Assert.Equal("model.norm.weight", e.TensorName);
        Assert.Contains("out of range", e.Message);
    }

    [Fact]
    public void OverlappingTensors()
    {
        var (h, data) = ReadSafeTensors();
        var other = h["model.layers.0.input_layernorm.weight"]!["data_offsets"]!.AsArray();
        h["model.norm.weight"]!["data_offsets"] = new JsonArray((long)other[0]!, (long)other[1]!);
        WriteSafeTensors(h, data);
        var e = Load();
        Assert.Contains("overlaps", e.Message);
        Assert.True(e.Message.Contains("model.norm.weight") && e.Message.Contains("model.layers.0.input_layernorm.weight"), e.Message);
    }

    [Fact]
    public void UnknownDtype()
    {
        var (h, data) = ReadSafeTensors();
        h["model.norm.weight"]!["dtype"] = "F12";
        WriteSafeTensors(h, data);
        var e = Load();
        Assert.Equal("model.norm.weight", e.TensorName);
        Assert.Contains("unknown dtype 'F12'", e.Message);
    }

    [Fact]
    public void UnsupportedDtypeForWeight()
    {
        var (h, data) = ReadSafeTensors();
        h["model.norm.weight"]!["dtype"] = "I32";
        WriteSafeTensors(h, data);
        var e = Load();
        Assert.Equal("model.norm.weight", e.TensorName);
        Assert.Contains("I32 is not supported", e.Message);
    }

    [Fact]
    public void SizeDoesNotMatchShape()
    {
        var (h, data) = ReadSafeTensors();
        h["model.norm.weight"]!["shape"] = new JsonArray(65);
        WriteSafeTensors(h, data);
        var e = Load();
        Assert.Equal("model.norm.weight", e.TensorName);
        Assert.Contains("needs", e.Message);
    }

    [Fact]
    public void WrongShape()
    {
        EditConfig(c => c["intermediate_size"] = 128);
        var e = Load();
        Assert.Equal("model.layers.0.mlp.gate_proj.weight", e.TensorName);
        Assert.Contains("wrong shape: expected [128, 64], found [160, 64]", e.Message);
    }

    [Fact]
    public void MissingTensor()
    {
        var (h, data) = ReadSafeTensors();
        // Cut its bytes out too: the remaining tensors must still tile the data section exactly.
        var offsets = h["model.layers.1.self_attn.k_proj.weight"]!["data_offsets"]!.AsArray();
        long begin = (long)offsets[0]!, end = (long)offsets[1]!;
        h.Remove("model.layers.1.self_attn.k_proj.weight");
        foreach (var (name, entry) in h)
        {
            if (name == "__metadata__" || (long)entry!["data_offsets"]![0]! < end) continue;
            var o = entry["data_offsets"]!.AsArray();
            entry["data_offsets"] = new JsonArray((long)o[0]! - (end - begin), (long)o[1]! - (end - begin));
        }
        WriteSafeTensors(h, [.. data[..(int)begin], .. data[(int)end..]]);
        var e = Load();
        Assert.Equal("model.layers.1.self_attn.k_proj.weight", e.TensorName);
        Assert.Contains("missing tensor", e.Message);
    }

    [Fact]
    public void MissingWeightsFile()
    {
        File.Delete(Weights);
        Assert.Contains("no model.safetensors", Load().Message);
    }

    [Fact]
    public void ShardListedButAbsent()
    {
        File.Delete(Weights);
        File.WriteAllText(Path.Combine(_dir, "model.safetensors.index.json"), "{\"weight_map\": {\"model.norm.weight\": \"model-00001-of-00002.safetensors\"}}");
        var e = Load();
        Assert.Contains("model-00001-of-00002.safetensors", e.Message);
        Assert.Contains("file not found", e.Message);
    }

    [Fact]
    public void UnsupportedArchitecture()
    {
        EditConfig(c => c["architectures"] = new JsonArray("GPT2LMHeadModel"));
        var e = Load();
        Assert.Contains("config.json", e.Message);
        Assert.Contains("unsupported architecture 'GPT2LMHeadModel'", e.Message);
    }

    [Theory]
    [InlineData("hidden_size")]
    [InlineData("num_hidden_layers")]
    [InlineData("num_attention_heads")]
    [InlineData("vocab_size")]
    [InlineData("intermediate_size")]
    [InlineData("architectures")]
    public void MissingConfigField(string field)
    {
        EditConfig(c => c.Remove(field));
        var e = Load();
        Assert.Contains("config.json", e.Message);
        Assert.Contains($"'{field}'", e.Message);
    }

    [Fact]
    public void MalformedConfig()
    {
        File.WriteAllText(Config, "{ \"hidden_size\": ");
        Assert.Contains("malformed JSON", Load().Message);
    }

    [Fact]
    public void UnsupportedRopeScaling()
    {
        EditConfig(c => c["rope_parameters"] = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4.0 });
        Assert.Contains("unsupported rope scaling type 'yarn'", Load().Message);
    }

    [Fact]
    public void MissingDirectory()
    {
        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(Path.Combine(_dir, "nope")));
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public async Task EngineSurfacesLoadErrors()
    {
        EditConfig(c => c.Remove("vocab_size"));
        var e = await Assert.ThrowsAsync<ModelLoadException>(() => LlmEngine.LoadAsync(new EngineOptions { ModelPath = _dir }));
        Assert.Contains("'vocab_size'", e.Message);
    }

    [Fact]
    public async Task CorruptTokenizerJson_IsAModelLoadException_NamingTheFile()
    {
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": ");
        var e = await Assert.ThrowsAsync<ModelLoadException>(() => LlmEngine.LoadAsync(new EngineOptions { ModelPath = _dir, NumKvBlocks = 8 }));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.IsType<PagedAttention.Text.Tokenization.TokenizerLoadException>(e.InnerException);
    }
}
