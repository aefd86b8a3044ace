using System.Buffers.Binary;
using System.Text.Json.Nodes;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.Kernels;
using PagedAttention.Tests.Models;
using Xunit.Abstractions;

namespace PagedAttention.Tests.Loading;

/// <summary>
/// GPTQ 4-bit symmetric checkpoints (tools/gptq/make_gptq_checkpoint.py: the tiny Llama quantized by numpy, packed in
/// AutoGPTQ's format) read into the CPU Int4 format: the loaded weights dequantize bit for bit to numpy's, the model
/// matches the same dequantized weights in f32 within the Int4 kernel's activation rounding, and every unsupported
/// variant fails the load naming why.
/// </summary>
[Collection("QuantizedKernels")]
public sealed class GptqLoadingTests(ITestOutputHelper output)
{
    private static readonly string[] Projections =
        ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

    private static WeightMatrix Get(LayerWeights w, string proj) => proj switch
    {
        "self_attn.q_proj" => w.Q,
        "self_attn.k_proj" => w.K,
        "self_attn.v_proj" => w.V,
        "self_attn.o_proj" => w.O,
        "mlp.gate_proj" => w.Gate,
        "mlp.up_proj" => w.Up,
        _ => w.Down,
    };

    /// <summary>Every element of <paramref name="a"/> (Int4) equals the f32 tensor of <paramref name="golden"/> bit for bit; returns how many were compared.</summary>
    private static long AssertBitExact(WeightMatrix a, WeightMatrix golden, string name)
    {
        Assert.Equal(DType.Int4, a.DType);
        Assert.Equal(DType.F32, golden.DType);
        Assert.Equal((golden.Rows, golden.Cols), (a.Rows, a.Cols));
        int nonZero = 0;
        for (int r = 0; r < a.Rows; r++)
            for (int c = 0; c < a.Cols; c++)
            {
                float want = golden[r, c], got = a[r, c];
                if (BitConverter.SingleToInt32Bits(want) != BitConverter.SingleToInt32Bits(got) && !(want == 0 && got == 0))
                    Assert.Fail($"{name}[{r}, {c}]: engine {got:R}, numpy {want:R}");
                if (want != 0) nonZero++;
            }
        Assert.True(nonZero > a.Rows * a.Cols / 2, $"{name}: the golden is mostly zeros ({nonZero} of {a.Rows * a.Cols}).");
        return (long)a.Rows * a.Cols;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Group128WeightsDequantizeExactlyToNumpy(bool int4Option)
    {
        using var gptq = LlamaModel.Load(TestData.GptqModel("llama-gptq-g128"), int4Option ? DType.Int4 : null, null);
        using var plain = LlamaModel.Load(TestData.GptqModel("llama-gptq-g128-dequant"));
        Assert.Equal(DType.Int4, gptq.LayerDType);
        Assert.Equal(DType.F16, gptq.LmHeadDType);
        long n = 0;
        for (int l = 0; l < gptq.Config.NumLayers; l++)
            foreach (var p in Projections)
                n += AssertBitExact(Get(gptq.Layer(l), p), Get(plain.Layer(l), p), $"layer {l} {p}");
        Assert.Equal(2L * (64 * 64 * 2 + 32 * 64 * 2 + 160 * 64 * 3), n);
    }

    [Fact]
    public void Group32WeightsDequantizeExactlyToNumpy()
    {
        using var gptq = LlamaModel.Load(TestData.GptqModel("llama-gptq-g32"));
        using var golden = SafeTensorsFile.Open(Path.Combine(TestData.GptqModel("llama-gptq-g32"), "golden-dequant.safetensors"));
        foreach (var p in Projections)
        {
            var t = golden.Tensors[$"model.layers.0.{p}.weight"];
            AssertBitExact(Get(gptq.Layer(0), p), new WeightMatrix(t.Data, t.DType("golden"), (int)t.Shape[0], (int)t.Shape[1]), p);
        }
    }

    [Fact]
    public void Gptq_v2ZerosReadTheSame()
    {
        using var dir = new ScratchModelDir(TestData.GptqModel("llama-gptq-g32"));
        dir.EditJson("config.json", c => c["quantization_config"]!["checkpoint_format"] = "gptq_v2");
        RewriteQZeros(dir, 0x88888888u);
        using var v1 = LlamaModel.Load(TestData.GptqModel("llama-gptq-g32"));
        using var v2 = LlamaModel.Load(dir.Dir);
        foreach (var p in Projections) AssertBitExact(Get(v2.Layer(1), p), Dequantized(Get(v1.Layer(1), p)), p);
    }

    private static WeightMatrix Dequantized(WeightMatrix m)
    {
        var f = new float[m.Rows * m.Cols];
        for (int r = 0; r < m.Rows; r++) for (int c = 0; c < m.Cols; c++) f[r * m.Cols + c] = m[r, c];
        unsafe
        {
            var h = System.Runtime.InteropServices.GCHandle.Alloc(f, System.Runtime.InteropServices.GCHandleType.Pinned);
            // Pinned for the test's lifetime (a few KB).
            return new WeightMatrix(h.AddrOfPinnedObject(), DType.F32, m.Rows, m.Cols);
        }
    }

    /// <summary>Sets every qzeros word of the scratch checkpoint to <paramref name="word"/> (or only word 0 of layer 0's q_proj with <paramref name="onlyFirst"/>).</summary>
    private static void RewriteQZeros(ScratchModelDir dir, uint word, bool onlyFirst = false)
    {
        var (header, data) = dir.ReadSafeTensors();
        foreach (var (name, node) in header)
        {
            if (!name.EndsWith(".qzeros", StringComparison.Ordinal) || (onlyFirst && name != "model.layers.0.self_attn.q_proj.qzeros")) continue;
            var off = node!["data_offsets"]!.AsArray();
            int lo = (int)off[0]!, hi = onlyFirst ? (int)off[0]! + 4 : (int)off[1]!;
            for (int i = lo; i < hi; i += 4) BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(i), word);
        }
        dir.WriteSafeTensors(header, data);
    }

    /// <summary>
    /// The GPTQ model against the f32 model of the same (numpy-dequantized) weights: the only difference is the Int4
    /// kernel's int8 rounding of the activations, so teacher-forced top-1 agreement stays high and logits stay close.
    /// </summary>
    [Fact]
    public void GptqModelMatchesTheDequantizedFloatModel()
    {
        using var gptq = LlamaModel.Load(TestData.GptqModel("llama-gptq-g128"));
        using var plain = LlamaModel.Load(TestData.GptqModel("llama-gptq-g128-dequant"));
        var r = TeacherForced.Compare(gptq, plain, seed: 20, sequences: 4, length: 48);
        int steps = r.Steps, agree = r.Agree;
        double worst = r.WorstDiff, maxLogit = r.MaxLogit;
        double rel = r.RelativeDiff;
        output.WriteLine($"teacher-forced top-1 agreement {agree}/{steps}, mean |logit diff| / mean |logit| {rel:G4}, max |logit diff| {worst:G4} (max |logit| {maxLogit:G4}), mean KL {r.MeanKl:G4} nats");
        Assert.True(worst > 0, "identical logits: the GPTQ model did not run the Int4 kernel");
        // Measured: 180/192 agreement, 4.5 % mean relative logit difference, mean KL 0.0049 nats (the tiny random model
        // is sensitive; the weights themselves are bit-exact, see above). Bounds leave room for other SIMD widths.
        Assert.True(rel < 0.08, $"mean |logit diff| is {rel:P2} of mean |logit|");
        Assert.True(r.MeanKl < 0.02, $"mean KL {r.MeanKl} nats");
        Assert.True(agree >= steps * 85 / 100, $"top-1 agreement {agree}/{steps} below 85 %");
    }

    [Fact]
    public async Task EngineGreedyOutputOfGptqMatchesTheDequantizedModel()
    {
        var prompts = new[] { new[] { 1, 17, 99, 230 }, new[] { 1, 5, 300, 7, 42, 8 }, new[] { 1, 250 } };
        var g = await EngineGreedy.RunAsync(TestData.GptqModel("llama-gptq-g128"), prompts, 12);
        var f = await EngineGreedy.RunAsync(TestData.GptqModel("llama-gptq-g128-dequant"), prompts, 12);
        int same = 0, total = 0;
        for (int i = 0; i < prompts.Length; i++)
        {
            output.WriteLine($"prompt {i}: gptq [{string.Join(", ", g[i])}] f32 [{string.Join(", ", f[i])}]");
            Assert.Equal(12, g[i].Length);
            // Greedy paths may part after a near-tie (int8 activations); count the common prefix.
            int k = 0;
            while (k < 12 && g[i][k] == f[i][k]) k++;
            same += k;
            total += 12;
        }
        Assert.True(same >= total / 2, $"common greedy prefix {same}/{total} tokens");
    }

    private static ModelLoadException LoadFails(Action<JsonObject> qc, DType? layers = null)
    {
        using var dir = new ScratchModelDir(TestData.GptqModel("llama-gptq-g128"));
        dir.EditJson("config.json", c => qc(c["quantization_config"]!.AsObject()));
        return Assert.Throws<ModelLoadException>(() => LlamaModel.Load(dir.Dir, layers, null).Dispose());
    }

    [Theory]
    [InlineData("awq", "'awq'")]
    [InlineData("bitsandbytes", "'bitsandbytes'")]
    [InlineData("fp8", "'fp8'")]
    [InlineData("exl2", "'exl2'")]
    public void OtherQuantMethodsAreRejectedNamingThem(string method, string named)
    {
        var e = LoadFails(q => q["quant_method"] = method);
        Assert.Contains(named, e.Message);
        Assert.Contains("not supported", e.Message);
        Assert.Contains("GPTQ 4-bit symmetric", e.Message);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(2)]
    public void OtherBitWidthsAreRejected(int bits)
    {
        var e = LoadFails(q => q["bits"] = bits);
        Assert.Contains($"GPTQ with bits {bits} is not supported", e.Message);
    }

    [Fact]
    public void AsymmetricIsRejected() => Assert.Contains("sym false (asymmetric zero points)", LoadFails(q => q["sym"] = false).Message);

    [Fact]
    public void ActOrderIsRejected() => Assert.Contains("desc_act true (act-order", LoadFails(q => q["desc_act"] = true).Message);

    [Fact]
    public void QuantizedLmHeadIsRejected() => Assert.Contains("lm_head true", LoadFails(q => q["lm_head"] = true).Message);

    [Theory]
    [InlineData(16)]
    [InlineData(48)]
    [InlineData(0)]
    public void GroupSizesThatAreNotMultiplesOf32AreRejected(int group) =>
        Assert.Contains($"group_size {group} is not supported", LoadFails(q => q["group_size"] = group).Message);

    [Fact]
    public void OtherCheckpointFormatsAreRejected() =>
        Assert.Contains("checkpoint_format 'marlin' is not supported", LoadFails(q => q["checkpoint_format"] = "marlin").Message);

    [Fact]
    public void Int8WithGptqIsRejected()
    {
        var e = LoadFails(_ => { }, DType.Int8);
        Assert.Contains("Int4 already", e.Message);
        Assert.Contains("Int8 is not supported", e.Message);
    }

    [Fact]
    public void AGptqConfigOverAFloatCheckpointIsRejected()
    {
        using var dir = new ScratchModelDir(TestData.Model("llama"));
        dir.EditJson("config.json", c => c["quantization_config"] = JsonNode.Parse("""{"quant_method":"gptq","bits":4,"group_size":32,"sym":true,"desc_act":false}"""));
        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(dir.Dir).Dispose());
        Assert.Contains("no packed weights", e.Message);
    }

    [Fact]
    public void AsymmetricZeroPointsInTheTensorsAreRejected()
    {
        using var dir = new ScratchModelDir(TestData.GptqModel("llama-gptq-g128"));
        RewriteQZeros(dir, 0x77777776u, onlyFirst: true); // output 0 of group 0: stored 6, zero point 7
        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(dir.Dir).Dispose());
        Assert.Contains("zero point 7 (stored 6) at group 0, output 0", e.Message);
        Assert.Equal("model.layers.0.self_attn.q_proj.qzeros", e.TensorName);
    }

    [Fact]
    public void PermutedGIdxIsRejected()
    {
        using var dir = new ScratchModelDir(TestData.GptqModel("llama-gptq-g32"));
        dir.EditJson("config.json", c => c["quantization_config"]!["group_size"] = 32);
        // Give layer 0's down_proj (160 inputs, 5 groups of 32) an act-order g_idx: input 0 in group 1.
        var (header, data) = dir.ReadSafeTensors();
        long end = data.Length;
        var gidx = new byte[160 * 4];
        for (int i = 0; i < 160; i++) BinaryPrimitives.WriteInt32LittleEndian(gidx.AsSpan(i * 4), i == 0 ? 1 : i / 32);
        header["model.layers.0.mlp.down_proj.g_idx"] = new JsonObject
        {
            ["dtype"] = "I32",
            ["shape"] = new JsonArray(160),
            ["data_offsets"] = new JsonArray(end, end + gidx.Length),
        };
        dir.WriteSafeTensors(header, [.. data, .. gidx]);
        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(dir.Dir).Dispose());
        Assert.Contains("g_idx[0] = 1, not 0", e.Message);
        Assert.Contains("act-order", e.Message);
    }

    [Fact]
    public async Task GptqOnCudaIsRejectedBeforeCuda()
    {
        var e = await Assert.ThrowsAsync<ModelLoadException>(() =>
            LlmEngine.LoadAsync(new EngineOptions { ModelPath = TestData.GptqModel("llama-gptq-g128"), Device = "cuda" }));
        Assert.Contains("GPTQ checkpoints are CPU-only", e.Message);
        Assert.Contains("Device \"cuda\"", e.Message);
    }
}
