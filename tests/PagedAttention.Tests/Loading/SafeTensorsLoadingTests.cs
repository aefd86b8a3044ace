using System.Text;
using System.Text.Json.Nodes;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;

namespace PagedAttention.Tests.Loading;

/// <summary>
/// safetensors files that used to escape with the wrong exception or load corrupt weights: each fails with a
/// <see cref="ModelLoadException"/> naming the file and, where there is one, the tensor.
/// </summary>
public sealed class SafeTensorsLoadingTests : IDisposable
{
    private readonly ScratchModelDir _m = ScratchModelDir.Llama();

    public void Dispose() => _m.Dispose();

    private ModelLoadException Load()
    {
        var e = Assert.Throws<ModelLoadException>(() => { using var model = LlamaModel.Load(_m.Dir); });
        Assert.Contains("model.safetensors", e.Message);
        return e;
    }

    [Fact]
    public void InvalidUtf8InATensorName()
    {
        var (h, data) = _m.ReadSafeTensors();
        byte[] header = Encoding.UTF8.GetBytes(h.ToJsonString());
        byte[] name = Encoding.UTF8.GetBytes("model.norm.weight");
        int at = header.AsSpan().IndexOf(name);
        header[at + 6] = 0xFF; // "model\xFFnorm.weight"
        header[at + 7] = 0xFE;
        _m.WriteSafeTensorsRaw(header, data);
        var e = Load();
        Assert.Contains("UTF-8", e.Message);
    }

    [Fact]
    public void ShapeWhoseElementCountOverflows()
    {
        var (h, data) = _m.ReadSafeTensors();
        h["model.norm.weight"]!["shape"] = new JsonArray(1L << 40, 1L << 40);
        _m.WriteSafeTensors(h, data);
        var e = Load();
        Assert.Equal("model.norm.weight", e.TensorName);
        Assert.Contains("shape", e.Message);
    }

    [Fact]
    public void StringDataOffsets()
    {
        var (h, data) = _m.ReadSafeTensors();
        h["model.norm.weight"]!["data_offsets"] = new JsonArray("541696", "541952");
        _m.WriteSafeTensors(h, data);
        var e = Load();
        Assert.Equal("model.norm.weight", e.TensorName);
        Assert.Contains("data_offsets", e.Message);
    }

    [Fact]
    public void StringShapeAndDtypeOfWrongKind()
    {
        var (h, data) = _m.ReadSafeTensors();
        h["model.norm.weight"]!["shape"] = new JsonArray("64");
        _m.WriteSafeTensors(h, data);
        Assert.Equal("model.norm.weight", Load().TensorName);
    }

    [Fact]
    public void HeaderLengthOneShort_ShiftsEveryTensor_IsRejected()
    {
        // A space-padded header (as safetensors writes it) still parses when its length field is one short; the data
        // section then starts one byte early and the tensors no longer tile it.
        var (h, data) = _m.ReadSafeTensors();
        int len = Encoding.UTF8.GetByteCount(h.ToJsonString()) + 2;
        _m.WriteSafeTensors(h, data, padding: 2, lengthField: len - 1);
        var e = Load();
        Assert.Contains("data section", e.Message);
    }

    [Fact]
    public void TheDefaultModel_WithItsHeaderLengthOneShort_IsRejected()
    {
        using var d = ScratchModelDir.Default();
        var bytes = File.ReadAllBytes(d.Weights);
        ulong n = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes, n - 1);
        File.WriteAllBytes(d.Weights, bytes);
        var e = Assert.Throws<ModelLoadException>(() => { using var model = LlamaModel.Load(d.Dir); });
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("data section", e.Message);
    }

    [Fact]
    public void BytesAfterTheLastTensor_AreRejected()
    {
        var (h, data) = _m.ReadSafeTensors();
        _m.WriteSafeTensors(h, [.. data, .. new byte[16]]);
        var e = Load();
        Assert.Contains("data section", e.Message);
        Assert.Contains("16", e.Message);
    }

    [Fact]
    public void AGapBetweenTensors_IsRejected()
    {
        var (h, data) = _m.ReadSafeTensors();
        // Move the last tensor 4 bytes later and grow the file: every range is in bounds, but bytes 541696..541700 belong to no tensor.
        h["model.norm.weight"]!["data_offsets"] = new JsonArray(541700, 541956);
        _m.WriteSafeTensors(h, [.. data, 0, 0, 0, 0]);
        var e = Load();
        Assert.Equal("model.norm.weight", e.TensorName);
        Assert.Contains("gap", e.Message);
    }

    [Fact]
    public void AZeroSizedTensorAnywhere_IsFine()
    {
        var (h, data) = _m.ReadSafeTensors();
        h["extra.empty"] = new JsonObject { ["dtype"] = "F32", ["shape"] = new JsonArray(0, 64), ["data_offsets"] = new JsonArray(98304, 98304) };
        _m.WriteSafeTensors(h, data);
        using var model = LlamaModel.Load(_m.Dir);
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("a\u0000b")]
    public void IndexEntriesThatAreNoFileName_NameTheIndexFile(string shard)
    {
        File.Delete(_m.Weights);
        File.WriteAllText(_m["model.safetensors.index.json"],
            new JsonObject { ["weight_map"] = new JsonObject { ["model.norm.weight"] = shard } }.ToJsonString());
        var e = Assert.Throws<ModelLoadException>(() => { using var model = LlamaModel.Load(_m.Dir); });
        Assert.Equal(_m["model.safetensors.index.json"], e.FilePath);
        Assert.Equal("model.norm.weight", e.TensorName);
        Assert.Contains("plain file name", e.Message);
    }

    [Fact]
    public async Task HuggingFaceCacheLayout_SymlinkedWeights_LoadAndGenerateAsTheOriginal()
    {
        // snapshots/<rev>/model.safetensors -> ../../blobs/<hash>, as huggingface_hub lays out its cache.
        string blobs = Path.Combine(_m.Dir, "blobs"), snapshot = Path.Combine(_m.Dir, "snapshots", "abc123");
        Directory.CreateDirectory(blobs);
        Directory.CreateDirectory(snapshot);
        foreach (var f in new[] { "model.safetensors", "config.json", "generation_config.json" })
        {
            File.Move(_m[f], Path.Combine(blobs, "blob-" + f));
            File.CreateSymbolicLink(Path.Combine(snapshot, f), Path.Combine("..", "..", "blobs", "blob-" + f));
        }
        var expected = await Generate(TestData.Model("llama"));
        Assert.Equal(expected, await Generate(snapshot));
    }

    private static async Task<List<int>> Generate(string dir)
    {
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = dir, NumKvBlocks = 8 });
        var ids = new List<int>();
        await foreach (var o in engine.GenerateAsync([5, 6, 7], new AI.Sampling.SamplingParams { Temperature = 0, MaxTokens = 6, IgnoreEos = true }))
            ids.Add(o.TokenId);
        return ids;
    }
}
