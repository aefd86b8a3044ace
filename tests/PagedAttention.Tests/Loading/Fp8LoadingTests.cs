using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;
using PagedAttention.Tests.Kernels;
using PagedAttention.Tests.Models;
using Xunit.Abstractions;

namespace PagedAttention.Tests.Loading;

/// <summary>
/// compressed-tensors FP8 checkpoints (tools/fp8/make_fp8_checkpoint.py: the tiny Llama's linear weights as E4M3 codes
/// with per-channel or per-tensor scales, encoded by numpy from the format's definition) on the CPU: E4M3 decoding of
/// all 256 codes by definition, the widening kernels against it, the FP8 GEMV against a double reference and alone vs
/// batched, the loaded weights bit for bit against numpy's dequantization, the model against its f32 twin, and every
/// unsupported variant failing the load naming why.
/// </summary>
public sealed class Fp8LoadingTests(ITestOutputHelper output)
{
    private static readonly string[] Projections =
        ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

    /// <summary>E4M3 "FN" from its definition: (-1)^s · 2^(e-7) · (1 + m/8), subnormal 2^-6 · m/8, NaN for S.1111.111.</summary>
    private static double Definition(int code)
    {
        int s = code >> 7, e = (code >> 3) & 15, m = code & 7;
        if (e == 15 && m == 7) return double.NaN;
        double v = e == 0 ? Math.Pow(2, -6) * m / 8.0 : Math.Pow(2, e - 7) * (1 + m / 8.0);
        return s == 1 ? -v : v;
    }

    [Fact]
    public void EveryE4M3CodeDecodesToItsDefinedValue()
    {
        for (int c = 0; c < 256; c++)
        {
            double want = Definition(c);
            float got = Fp8E4M3.ToSingle((byte)c);
            if (double.IsNaN(want)) Assert.True(float.IsNaN(got), $"code {c:X2} should be NaN, got {got}");
            else Assert.True(got == want && (c != 0x80 || float.IsNegative(got)), $"code {c:X2}: {got:R} vs {want:R}");
        }
        Assert.Equal(448f, Fp8E4M3.ToSingle(0x7E));
        Assert.Equal(MathF.Pow(2, -9), Fp8E4M3.ToSingle(0x01));
    }

    [Fact]
    public void EncodingRoundsToTheNearestCodeTiesToEven()
    {
        for (int c = 0; c < 256; c++)
            if ((c & 0x7F) != 0x7F) Assert.Equal(c, Fp8E4M3.FromSingle(Fp8E4M3.ToSingle((byte)c)));
        for (int c = 0; c < 0x7E; c++)
        {
            // The midpoint of two neighbours goes to the even code; a hair either side to the nearer one.
            float a = Fp8E4M3.ToSingle((byte)c), b = Fp8E4M3.ToSingle((byte)(c + 1)), mid = (a + b) / 2;
            Assert.Equal((c & 1) == 0 ? c : c + 1, Fp8E4M3.FromSingle(mid));
            Assert.Equal(c, Fp8E4M3.FromSingle(MathF.BitDecrement(mid)));
            Assert.Equal(c + 1, Fp8E4M3.FromSingle(MathF.BitIncrement(mid)));
            Assert.Equal(0x80 | c, Fp8E4M3.FromSingle(-MathF.BitDecrement(mid)));
        }
        Assert.Equal(0x7E, Fp8E4M3.FromSingle(1e6f));
        Assert.Equal(0xFE, Fp8E4M3.FromSingle(float.NegativeInfinity));
        Assert.Equal(0x7F, Fp8E4M3.FromSingle(float.NaN));
    }

    [Fact]
    public unsafe void TheGeneratorsCodesAreTheEncodersCodes()
    {
        // tools/fp8 (numpy, its own encoder by definition) against Fp8E4M3.FromSingle: every code of every FP8 layer is
        // the encoding of the f32 source weight divided by its row scale (both divisions IEEE float32).
        using var fp8 = LlamaModel.Load(TestData.Fp8Model("llama-fp8-channel"));
        using var source = LlamaModel.Load(TestData.Model("llama"));
        long n = 0, subnormal = 0;
        for (int l = 0; l < fp8.Config.NumLayers; l++)
            foreach (var p in Projections)
            {
                WeightMatrix q = Get(fp8.Layer(l), p), w = Get(source.Layer(l), p);
                for (int r = 0; r < q.Rows; r++)
                {
                    float scale = ((float*)q.Scales)[r];
                    for (int c = 0; c < q.Cols; c++)
                    {
                        byte code = ((byte*)q.Data)[(long)r * q.Cols + c];
                        byte mine = Fp8E4M3.FromSingle(Math.Clamp(w[r, c] / scale, -448f, 448f));
                        if (code != mine) Assert.Fail($"layer {l} {p}[{r}, {c}]: file {code:X2}, encoder {mine:X2} (w {w[r, c]:R}, scale {scale:R})");
                        if ((code & 0x78) == 0) subnormal++;
                        n++;
                    }
                }
            }
        output.WriteLine($"{n} codes agree, {subnormal} of them subnormal or zero");
        Assert.True(subnormal > 0, "no subnormal codes: the test data does not exercise them");
    }

    [Fact]
    public unsafe void WideningKernelsGiveTheScalarValueOfEveryFiniteCode()
    {
        byte* row = stackalloc byte[256];
        for (int c = 0; c < 256; c++) row[c] = (byte)c;
        for (int i = 0; i < 256; i += 16)
        {
            var v16 = F8E4M3Widener.Load16(row, i);
            var v8a = F8E4M3Widener.Load8(row, i);
            var v8b = F8E4M3Widener.Load8(row, i + 8);
            for (int k = 0; k < 16; k++)
            {
                float want = Fp8E4M3.ToSingle((byte)(i + k));
                float a = v16[k], b = k < 8 ? v8a[k] : v8b[k - 8];
                if (float.IsNaN(want)) continue; // NaN codes never reach the kernel: the load rejects them (below)
                Assert.Equal(BitConverter.SingleToInt32Bits(want), BitConverter.SingleToInt32Bits(a));
                Assert.Equal(BitConverter.SingleToInt32Bits(want), BitConverter.SingleToInt32Bits(b));
            }
        }
    }

    /// <summary>A random FP8 matrix (finite codes) with positive row scales, in native memory.</summary>
    private sealed unsafe class Fp8Matrix : IDisposable
    {
        public Fp8Matrix(int rows, int cols, Random rng)
        {
            Codes = (byte*)NativeMemory.AlignedAlloc((nuint)(rows * cols), 64);
            Scales = (float*)NativeMemory.AlignedAlloc((nuint)rows * 4, 64);
            for (int i = 0; i < rows * cols; i++)
            {
                int c;
                do c = rng.Next(256); while ((c & 0x7F) == 0x7F);
                Codes[i] = (byte)c;
            }
            for (int r = 0; r < rows; r++) Scales[r] = (float)(0.5 + rng.NextDouble()) / 448f;
            Matrix = new WeightMatrix((nint)Codes, (nint)Scales, DType.F8E4M3, rows, cols);
        }

        public byte* Codes { get; }

        public float* Scales { get; }

        public WeightMatrix Matrix { get; }

        public void Dispose()
        {
            NativeMemory.AlignedFree(Codes);
            NativeMemory.AlignedFree(Scales);
        }
    }

    [Theory]
    [InlineData(1, 300, 37)]
    [InlineData(5, 300, 37)]
    [InlineData(1, 4200, 19)] // rows of >= 4 KiB: the single row takes the 1x8 tile
    [InlineData(9, 17, 130)]
    public unsafe void GemvMatchesTheDequantizedReferenceAndDoesNotDependOnTheBatch(int rows, int k, int n)
    {
        var rng = new Random(rows * 1000 + k + n);
        using var w = new Fp8Matrix(n, k, rng);
        var x = TestWeights.RandomVector(rng, rows * k);
        var y = new float[rows * n];
        CpuOps.MatMul(x, rows, w.Matrix, y);
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < n; o++)
            {
                double exact = 0, mag = 0;
                for (int i = 0; i < k; i++)
                {
                    double term = (double)x[r * k + i] * Fp8E4M3.ToSingle(w.Codes[(long)o * k + i]) * w.Scales[o];
                    exact += term;
                    mag += Math.Abs(term);
                }
                Assert.True(Math.Abs(y[r * n + o] - exact) <= 1e-5 * mag + 1e-7, $"[{r},{o}] {y[r * n + o]} vs {exact}");
                Assert.Equal(BitConverter.SingleToInt32Bits(w.Matrix[o, 0]), BitConverter.SingleToInt32Bits(Fp8E4M3.ToSingle(w.Codes[(long)o * k]) * w.Scales[o]));
            }
        using var pool3 = new CpuWorkerPool(3);
        var y3 = new float[rows * n];
        CpuOps.MatMul(x, rows, w.Matrix, y3, pool3);
        Assert.Equal(y, y3);
        var single = new float[n];
        for (int r = 0; r < rows; r++)
        {
            CpuOps.MatMul(x.AsSpan(r * k, k), 1, w.Matrix, single);
            Assert.True(single.AsSpan().SequenceEqual(y.AsSpan(r * n, n)), $"row {r} differs alone vs in a batch");
        }
    }

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

    [Fact]
    public void ChannelWeightsDequantizeExactlyToNumpy()
    {
        using var fp8 = LlamaModel.Load(TestData.Fp8Model("llama-fp8-channel"));
        using var plain = LlamaModel.Load(TestData.Fp8Model("llama-fp8-channel-dequant"));
        Assert.Equal(DType.F8E4M3, fp8.LayerDType);
        Assert.Equal(DType.BF16, fp8.LmHeadDType); // lm_head is in "ignore"
        long n = 0, nonZero = 0;
        for (int l = 0; l < fp8.Config.NumLayers; l++)
            foreach (var p in Projections)
            {
                WeightMatrix a = Get(fp8.Layer(l), p), b = Get(plain.Layer(l), p);
                Assert.Equal(DType.F8E4M3, a.DType);
                Assert.Equal((b.Rows, b.Cols), (a.Rows, a.Cols));
                for (int r = 0; r < a.Rows; r++)
                    for (int c = 0; c < a.Cols; c++)
                    {
                        float want = b[r, c], got = a[r, c];
                        if (BitConverter.SingleToInt32Bits(want) != BitConverter.SingleToInt32Bits(got)) Assert.Fail($"layer {l} {p}[{r}, {c}]: engine {got:R}, numpy {want:R}");
                        if (want != 0) nonZero++;
                        n++;
                    }
            }
        Assert.True(nonZero > n * 9 / 10, $"only {nonZero} of {n} dequantized weights are non-zero");
    }

    [Fact]
    public void Fp8OnAnFp8CheckpointReadsTheWeightsAsTheyAre()
    {
        // WeightQuantization.Fp8 is accepted on an FP8 checkpoint and must not requantize its codes (a second rounding).
        using var asRead = LlamaModel.Load(TestData.Fp8Model("llama-fp8-channel"));
        using var fp8 = LlamaModel.Load(TestData.Fp8Model("llama-fp8-channel"), DType.F8E4M3, null);
        Assert.Equal(DType.F8E4M3, fp8.LayerDType);
        Assert.Equal(DType.BF16, fp8.LmHeadDType);
        for (int l = 0; l < fp8.Config.NumLayers; l++)
            foreach (var p in Projections)
            {
                WeightMatrix a = Get(asRead.Layer(l), p), b = Get(fp8.Layer(l), p);
                for (int r = 0; r < a.Rows; r++)
                    for (int c = 0; c < a.Cols; c++)
                        if (BitConverter.SingleToInt32Bits(a[r, c]) != BitConverter.SingleToInt32Bits(b[r, c])) Assert.Fail($"layer {l} {p}[{r}, {c}]: {b[r, c]:R} vs as read {a[r, c]:R}");
            }
    }

    [Fact]
    public unsafe void TensorScaleWeightsShareOneScalePerMatrix()
    {
        using var fp8 = LlamaModel.Load(TestData.Fp8Model("llama-fp8-tensor"));
        Assert.Equal(DType.F8E4M3, fp8.LayerDType);
        foreach (var p in Projections)
        {
            var m = Get(fp8.Layer(0), p);
            float* s = (float*)m.Scales;
            for (int r = 1; r < m.Rows; r++) Assert.Equal(s[0], s[r]);
            // The row with the largest |w| maps it to E4M3's largest magnitude, 448.
            float amax = 0;
            for (int r = 0; r < m.Rows; r++)
                for (int c = 0; c < m.Cols; c++) amax = Math.Max(amax, Math.Abs(m[r, c]));
            Assert.Equal(448f * s[0], amax, 1e-6f * amax);
        }
    }

    /// <summary>Mean KL of <paramref name="model"/>'s next-token distribution from the f32 source model, teacher-forced on random tokens.</summary>
    private static (double Kl, int Agree, int Steps) AgainstSource(LlamaModel model)
    {
        using var source = LlamaModel.Load(TestData.Model("llama"));
        var r = TeacherForced.Compare(model, source, seed: 5, sequences: 4, length: 32);
        return (r.MeanKl, r.Agree, r.Steps);
    }

    [Theory]
    [InlineData("llama-fp8-channel")]
    [InlineData("llama-fp8-tensor")]
    public void Fp8ModelIsCloserToItsSourceThanInt4AndFurtherThanInt8(string name)
    {
        // The FP8 model against the f32 checkpoint it was quantized from. The tiny random model has nearly flat logits,
        // so top-1 flips easily under any quantization; the formats are compared with each other on the same tokens:
        // E4M3 (3 mantissa bits, a scale per row or tensor) must lose less than Int4 (a scale per 32) and more than
        // Int8 (a scale per row), both quantized at load from the same source.
        using var fp8 = LlamaModel.Load(TestData.Fp8Model(name));
        using var int4 = LlamaModel.Load(TestData.Model("llama"), DType.Int4, null);
        using var int8 = LlamaModel.Load(TestData.Model("llama"), DType.Int8, null);
        var f = AgainstSource(fp8);
        var q4 = AgainstSource(int4);
        var q8 = AgainstSource(int8);
        output.WriteLine($"{name}: mean KL from the f32 source {f.Kl:G4} nats (top-1 {f.Agree}/{f.Steps}); Int4 {q4.Kl:G4} ({q4.Agree}/{q4.Steps}); Int8 {q8.Kl:G4} ({q8.Agree}/{q8.Steps})");
        Assert.True(f.Kl < q4.Kl, $"FP8 KL {f.Kl} is not below Int4's {q4.Kl}");
        Assert.True(f.Kl > q8.Kl, $"FP8 KL {f.Kl} is not above Int8's {q8.Kl}: suspiciously exact");
    }

    [Fact]
    public void Fp8ModelMatchesItsDequantizedTwin()
    {
        // The twin holds the same dequantized weights in f32; only where the row scale is applied differs (to the dot
        // product instead of each weight): float rounding, far below FP8's own error.
        using var fp8 = LlamaModel.Load(TestData.Fp8Model("llama-fp8-channel"));
        using var plain = LlamaModel.Load(TestData.Fp8Model("llama-fp8-channel-dequant"));
        var r = TeacherForced.Compare(fp8, plain, seed: 5, sequences: 4, length: 32);
        int steps = r.Steps, agree = r.Agree;
        double twinWorst = r.WorstDiff, twinScale = r.MaxLogit;
        output.WriteLine($"top-1 agreement with the dequantized twin {agree}/{steps}, mean KL {r.MeanKl:G4} nats, max |logit diff| {twinWorst:G4} (max |logit| {twinScale:G4})");
        Assert.True(twinWorst > 0, "identical logits: the FP8 model did not run the FP8 kernel");
        Assert.True(twinWorst <= 1e-4 * twinScale + 1e-5, $"max |logit diff| vs the dequantized twin {twinWorst}");
        Assert.Equal(steps, agree);
    }

    [Fact]
    public async Task EngineServesAnFp8CheckpointLikeItsDequantizedTwin()
    {
        var prompts = new[] { new[] { 1, 17, 99, 230 }, new[] { 1, 5, 300, 7, 42, 8 } };
        var f8 = await EngineGreedy.RunAsync(TestData.Fp8Model("llama-fp8-channel"), prompts, 12);
        var f32 = await EngineGreedy.RunAsync(TestData.Fp8Model("llama-fp8-channel-dequant"), prompts, 12);
        for (int i = 0; i < prompts.Length; i++)
        {
            output.WriteLine($"prompt {i}: fp8 [{string.Join(", ", f8[i])}] f32 twin [{string.Join(", ", f32[i])}]");
            Assert.Equal(f32[i], f8[i]); // the same weights; logits differ by float rounding only (above)
        }
    }

    private static ModelLoadException LoadFails(Action<JsonObject> qc, DType? layers = null)
    {
        using var dir = new ScratchModelDir(TestData.Fp8Model("llama-fp8-channel"));
        dir.EditJson("config.json", c => qc(c["quantization_config"]!.AsObject()));
        return Assert.Throws<ModelLoadException>(() => LlamaModel.Load(dir.Dir, layers, null).Dispose());
    }

    private static JsonObject Weights(JsonObject qc) => qc["config_groups"]!["group_0"]!["weights"]!.AsObject();

    [Fact]
    public void PackedIntFormatsAreRejectedNamingThem() =>
        Assert.Contains("format 'pack-quantized' is not supported", LoadFails(q => q["format"] = "pack-quantized").Message);

    [Fact]
    public void IntWeightsAreRejected()
    {
        var e = LoadFails(q => { Weights(q)["type"] = "int"; Weights(q)["num_bits"] = 4; });
        Assert.Contains("weights of type int with num_bits 4 are not supported", e.Message);
    }

    [Theory]
    [InlineData("group")]
    [InlineData("block")]
    public void OtherStrategiesAreRejected(string strategy) =>
        Assert.Contains($"strategy '{strategy}' is not supported", LoadFails(q => Weights(q)["strategy"] = strategy).Message);

    [Fact]
    public void BlockScalesAreRejected() =>
        Assert.Contains("block-wise FP8 weight scales", LoadFails(q => Weights(q)["block_structure"] = new JsonArray(128, 128)).Message);

    [Fact]
    public void DynamicOrAsymmetricWeightsAreRejected()
    {
        Assert.Contains("dynamic weight scales", LoadFails(q => Weights(q)["dynamic"] = true).Message);
        Assert.Contains("asymmetric FP8 weights", LoadFails(q => Weights(q)["symmetric"] = false).Message);
    }

    [Fact]
    public void KvCacheSchemesAreRejected() =>
        Assert.Contains("kv_cache_scheme", LoadFails(q => q["kv_cache_scheme"] = JsonNode.Parse("""{"num_bits":8,"type":"float","strategy":"tensor"}""")).Message);

    [Fact]
    public void SeveralSchemesAreRejected() =>
        Assert.Contains("2 config_groups", LoadFails(q => q["config_groups"]!.AsObject()["group_1"] = q["config_groups"]!["group_0"]!.DeepClone()).Message);

    [Fact]
    public void RequantizingAnFp8CheckpointIsRejected() =>
        Assert.Contains("FP8 already; EngineOptions.WeightQuantization Int8 is not supported", LoadFails(_ => { }, DType.Int8).Message);

    [Fact]
    public void AnFp8ConfigOverAFloatCheckpointIsRejected()
    {
        using var dir = new ScratchModelDir(TestData.Model("llama"));
        using var fp8Config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(TestData.Fp8Model("llama-fp8-channel"), "config.json")));
        dir.EditJson("config.json", c => c["quantization_config"] = JsonNode.Parse(fp8Config.RootElement.GetProperty("quantization_config").GetRawText()));
        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(dir.Dir).Dispose());
        Assert.Contains("is not F8_E4M3", e.Message);
    }

    [Theory]
    [InlineData(0x7F)]
    [InlineData(0xFF)]
    public void ANanCodeInAWeightFailsTheLoadNamingIt(int code)
    {
        using var dir = new ScratchModelDir(TestData.Fp8Model("llama-fp8-channel"));
        string file = Path.Combine(dir.Dir, "model.safetensors");
        var bytes = File.ReadAllBytes(file);
        long headerLen = BitConverter.ToInt64(bytes, 0);
        using var header = System.Text.Json.JsonDocument.Parse(bytes.AsMemory(8, (int)headerLen));
        var t = header.RootElement.GetProperty("model.layers.1.mlp.up_proj.weight");
        long begin = t.GetProperty("data_offsets")[0].GetInt64();
        int cols = t.GetProperty("shape")[1].GetInt32();
        bytes[8 + headerLen + begin + 3 * cols + 5] = (byte)code;
        File.WriteAllBytes(file, bytes);
        var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(dir.Dir).Dispose());
        Assert.Contains("model.layers.1.mlp.up_proj.weight", e.Message);
        Assert.Contains($"NaN code 0x{code:X2} at [3, 5]", e.Message);
    }

    [Fact]
    public async Task Fp8CheckpointOnCudaGetsPastTheFormatCheck()
    {
        // FP8 checkpoints run on CUDA too (W8A8): without a GPU the load fails only for the missing CUDA, not the format.
        if (PagedAttention.Kernels.Cuda.CudaDevice.MissingComponent() is not { } missing) return; // a GPU: GpuCheck --fp8-models covers it
        var e = await Assert.ThrowsAsync<NotSupportedException>(() =>
            LlmEngine.LoadAsync(new EngineOptions { ModelPath = TestData.Fp8Model("llama-fp8-channel"), Device = "cuda" }));
        Assert.Contains(missing, e.Message);
        Assert.DoesNotContain("FP8", e.Message);
    }
}
