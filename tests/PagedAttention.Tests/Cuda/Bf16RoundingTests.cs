using System.Text.Json;
using PagedAttention.AI.Models;
using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;
using Xunit.Abstractions;

namespace PagedAttention.Tests.Cuda;

/// <summary>
/// The CUDA runner rounds weights, GEMM inputs, K/V and attention/MLP outputs to bf16. This CPU emulation rounds the
/// same tensors at the same points and measures how far that alone moves the tiny models' first-step logits from the
/// fp32 transformers goldens. On the H100 the GPU's deviation equals these figures to the printed digit (docs/cuda.md),
/// which is what tells bf16 rounding apart from a kernel bug; bench/GpuCheck's 6 % tolerance comes from here.
/// </summary>
public class Bf16RoundingTests(ITestOutputHelper output)
{
    private const float GpuLogitTolerance = 0.06f;

    private static float R(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        u += 0x7fffu + ((u >> 16) & 1u);
        return BitConverter.UInt32BitsToSingle(u & 0xffff0000u);
    }

    private static void Round(Span<float> s) { for (int i = 0; i < s.Length; i++) s[i] = R(s[i]); }

    private static unsafe void MatMulBf16(float[] x, int n, WeightMatrix w, float[] y)
    {
        var wf = new float[w.Rows * w.Cols];
        for (int r = 0; r < w.Rows; r++) for (int c = 0; c < w.Cols; c++) wf[r * w.Cols + c] = R(w[r, c]);
        fixed (float* p = wf) CpuOps.MatMul(x, n, new WeightMatrix((nint)p, DType.F32, w.Rows, w.Cols), y);
    }

    [Theory]
    [MemberData(nameof(Models.FidelityTests.ModelNames), MemberType = typeof(Models.FidelityTests))]
    public void Bf16RoundingAloneStaysWithinTheGpuTolerance(string name)
    {
        string dir = TestData.Model(name);
        var c = ModelConfig.Load(dir);
        using var t = CheckpointTensors.Open(dir);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "golden.json")));
        int h = c.HiddenSize, qd = c.NumHeads * c.HeadDim, kd = c.NumKvHeads * c.HeadDim, inter = c.IntermediateSize;
        var embed = t.Matrix("model.embed_tokens.weight", c.VocabSize, h);
        var lmHead = c.TieWordEmbeddings && !t.Contains("lm_head.weight") ? embed : t.Matrix("lm_head.weight", c.VocabSize, h);
        var layers = Enumerable.Range(0, c.NumLayers).Select(l => LayerWeights.Load(t, c, l)).ToArray();
        var inv = c.Rope.InverseFrequencies(c.HeadDim);
        float worst = 0;
        foreach (var cs in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var prompt = cs.GetProperty("prompt").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var gold = cs.GetProperty("logits").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            int n = prompt.Length;
            var pos = Enumerable.Range(0, n).ToArray();
            var hid = new float[n * h];
            CpuOps.Embedding(prompt, embed, hid);
            Round(hid); // the embedding table is stored in bf16
            using var cache = new CpuKvCache(c.NumLayers, 32, 16, c.NumKvHeads, c.HeadDim);
            var x = new float[n * h]; var q = new float[n * qd]; var k = new float[n * kd]; var v = new float[n * kd];
            var att = new float[n * qd]; var g = new float[n * inter]; var u = new float[n * inter];
            foreach (var (w, l) in layers.Select((w, l) => (w, l)))
            {
                CpuOps.RmsNorm(hid, w.InputNorm, c.RmsNormEps, x); Round(x);
                MatMulBf16(x, n, w.Q, q); MatMulBf16(x, n, w.K, k); MatMulBf16(x, n, w.V, v);
                Round(q); Round(k); Round(v); // the merged QKV GEMM writes bf16
                if (w.QBias is not null) { CpuOps.AddBias(q, w.QBias); CpuOps.AddBias(k, w.KBias!); CpuOps.AddBias(v, w.VBias!); }
                if (w.QNorm is not null) { CpuOps.RmsNorm(q, w.QNorm, c.RmsNormEps, q); CpuOps.RmsNorm(k, w.KNorm!, c.RmsNormEps, k); }
                CpuOps.Rope(q, c.NumHeads, c.HeadDim, pos, inv); CpuOps.Rope(k, c.NumKvHeads, c.HeadDim, pos, inv);
                Round(k); Round(v);
                CpuOps.WriteKv(k, v, pos, cache.Layer(l));
                CpuOps.PagedAttention(q, att, c.NumHeads, [0, n], [n], Enumerable.Range(0, 32).ToArray(), 32, cache.Layer(l), 1f / MathF.Sqrt(c.HeadDim));
                Round(att);
                MatMulBf16(att, n, w.O, x); if (w.OBias is not null) CpuOps.AddBias(x, w.OBias); CpuOps.Add(x, hid);
                CpuOps.RmsNorm(hid, w.PostAttentionNorm, c.RmsNormEps, x); Round(x);
                MatMulBf16(x, n, w.Gate, g); MatMulBf16(x, n, w.Up, u); Round(g); Round(u); // the gate|up GEMM writes bf16
                CpuOps.SiluMul(g, u, g); Round(g);
                MatMulBf16(g, n, w.Down, x); CpuOps.Add(x, hid);
            }
            var last = hid.AsSpan((n - 1) * h, h).ToArray();
            CpuOps.RmsNorm(last, t.Vector("model.norm.weight", h), c.RmsNormEps, last); Round(last);
            var logits = new float[c.VocabSize];
            MatMulBf16(last, 1, lmHead, logits);
            float d = 0;
            for (int i = 0; i < logits.Length; i++) d = MathF.Max(d, MathF.Abs(logits[i] - gold[i]));
            worst = MathF.Max(worst, d / gold.Max(MathF.Abs));
        }
        output.WriteLine($"{name}: bf16 rounding moves first-step logits by up to {worst:P2} of max |logit|");
        Assert.InRange(worst, 1e-4f, GpuLogitTolerance);
    }
}
