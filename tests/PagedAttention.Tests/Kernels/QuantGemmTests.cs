using System.Runtime.Intrinsics.X86;
using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;

namespace PagedAttention.Tests.Kernels;

/// <summary>
/// Int8 / Int4 weights (<see cref="QuantizedMatrix"/>, <see cref="CpuQuantGemm"/>): quantization error bounds, the
/// kernels against an independent scalar reference bit for bit, every instruction path against the others, and
/// alone-vs-batch determinism. In one collection because one test switches <see cref="CpuQuantGemm.ForcedPath"/>.
/// </summary>
[Collection("QuantizedKernels")]
public unsafe class QuantGemmTests
{
    public static IEnumerable<object[]> Shapes()
    {
        var data = new List<object[]>();
        foreach (var dt in new[] { DType.Int8, DType.Int4 })
            foreach (int rows in new[] { 1, 3, 4, 9 })
            {
                data.Add([dt, rows, 1, 1]);
                data.Add([dt, rows, 15, 5]);
                data.Add([dt, rows, 64, 8]);
                data.Add([dt, rows, 100, 67]);
                data.Add([dt, rows, 384, 130]);
            }
        // Rows of at least CpuGemm.RowAtATimeBelowBytes take the 1x8 tile for a single row of x (shorter rows go one
        // at a time): Int8 stores a byte per column, Int4 half a byte.
        data.Add([DType.Int8, 1, 4160, 19]);
        data.Add([DType.Int4, 1, 8250, 19]);
        return data;
    }

    [Theory]
    [InlineData(DType.F32, DType.Int8)]
    [InlineData(DType.BF16, DType.Int8)]
    [InlineData(DType.F16, DType.Int4)]
    [InlineData(DType.BF16, DType.Int4)]
    internal void QuantizationErrorIsWithinHalfAStep(DType source, DType target)
    {
        var rng = new Random(3);
        using var w = new TestWeights(source, 9, 200, rng);
        using var q = QuantizedMatrix.Quantize(w.Matrix, target);
        var m = q.Matrix;
        Assert.Equal(256, m.PaddedCols);
        for (int r = 0; r < 9; r++)
            for (int c = 0; c < 200; c++)
            {
                float step = target == DType.Int8 ? ((float*)m.Scales)[r] : MathF.Abs(((float*)m.Scales)[r * 8 + c / 32]);
                // Int4: the least-squares scale may clamp the extremes to the last code (-8 or 7 steps); inside the
                // range the error is at most half a step.
                float v = w.Matrix[r, c];
                float d = target == DType.Int8 ? step : ((float*)m.Scales)[r * 8 + c / 32];
                bool inRange = target == DType.Int8 || (v / d is var t && t >= -8.5f && t <= 7.5f);
                if (inRange) Assert.True(MathF.Abs(m[r, c] - v) <= step * 0.5001f, $"[{r},{c}] {m[r, c]} vs {v}");
                else Assert.True(m[r, c] == -8 * d || m[r, c] == 7 * d, $"[{r},{c}] {m[r, c]} is not a clamped code of {v}");
            }
        // Padding columns quantize to zero.
        for (int c = 200; c < 256; c++) Assert.Equal(0f, m[0, c]);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    internal void MatchesScalarReferenceExactly(DType dtype, int rows, int k, int n)
    {
        var rng = new Random(k * 31 + n + rows);
        using var w = new TestWeights(DType.BF16, n, k, rng);
        using var q = QuantizedMatrix.Quantize(w.Matrix, dtype);
        var x = TestWeights.RandomVector(rng, rows * k, 3f);
        var y = new float[rows * n];
        CpuOps.MatMul(x, rows, q.Matrix, y);
        var expected = Reference(x, rows, q.Matrix);
        for (int i = 0; i < y.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(y[i]) == BitConverter.SingleToInt32Bits(expected[i]), $"element {i}: {y[i]} vs reference {expected[i]}");
        // And close to the float product (the quantization error, not a kernel error).
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < n; o++)
            {
                double exact = 0, mag = 0;
                for (int i = 0; i < k; i++) { exact += x[r * k + i] * (double)w.Matrix[o, i]; mag += Math.Abs(x[r * k + i] * (double)w.Matrix[o, i]); }
                double tol = (dtype == DType.Int8 ? 0.03 : 0.25) * mag + 1e-4;
                Assert.True(Math.Abs(y[r * n + o] - exact) <= tol, $"[{r},{o}] {y[r * n + o]} vs float {exact}");
            }
    }

    [Theory]
    [InlineData(DType.Int8)]
    [InlineData(DType.Int4)]
    internal void EveryInstructionPathGivesTheSameBits(DType dtype)
    {
        const int rows = 13, k = 320, n = 75;
        var rng = new Random(11);
        using var w = new TestWeights(DType.F32, n, k, rng);
        using var q = QuantizedMatrix.Quantize(w.Matrix, dtype);
        var x = TestWeights.RandomVector(rng, rows * k);
        var paths = new List<int>();
        if (Avx512BW.IsSupported) paths.Add(1);
        if (Avx2.IsSupported && Fma.IsSupported) paths.Add(2);
        paths.Add(3);
        float[]? first = null;
        try
        {
            foreach (int p in paths)
            {
                CpuQuantGemm.ForcedPath = p;
                var y = new float[rows * n];
                CpuOps.MatMul(x, rows, q.Matrix, y);
                if (first is null) first = y;
                else Assert.True(first.AsSpan().SequenceEqual(y), $"path {p} differs from path {paths[0]}");
            }
        }
        finally { CpuQuantGemm.ForcedPath = 0; }
    }

    [Theory]
    [InlineData(DType.Int8, 256)]
    [InlineData(DType.Int4, 256)]
    [InlineData(DType.Int8, 4160)] // rows of >= 4 KiB: the single row takes the 1x8 tile, not one row at a time
    [InlineData(DType.Int4, 8250)]
    internal void RowResultIsIndependentOfBatchAndThreads(DType dtype, int k)
    {
        const int rows = 37, n = 131;
        var rng = new Random(7);
        using var w = new TestWeights(DType.BF16, n, k, rng);
        using var q = QuantizedMatrix.Quantize(w.Matrix, dtype);
        var x = TestWeights.RandomVector(rng, rows * k);
        var batched = new float[rows * n];
        CpuOps.MatMul(x, rows, q.Matrix, batched);
        using var pool3 = new CpuWorkerPool(3);
        var batched3 = new float[rows * n];
        CpuOps.MatMul(x, rows, q.Matrix, batched3, pool3);
        Assert.Equal(batched, batched3);
        var single = new float[n];
        for (int r = 0; r < rows; r++)
        {
            CpuOps.MatMul(x.AsSpan(r * k, k), 1, q.Matrix, single);
            Assert.True(single.AsSpan().SequenceEqual(batched.AsSpan(r * n, n)), $"row {r} differs alone vs in a batch");
        }
        var part = new float[7 * n];
        CpuOps.MatMul(x.AsSpan(5 * k, 7 * k), 7, q.Matrix, part);
        Assert.True(part.AsSpan().SequenceEqual(batched.AsSpan(5 * n, 7 * n)));
    }

    [Theory]
    [InlineData(DType.Int8)]
    [InlineData(DType.Int4)]
    internal void NonFiniteActivationsGiveNaN(DType dtype)
    {
        var rng = new Random(5);
        using var w = new TestWeights(DType.BF16, 8, 64, rng);
        using var q = QuantizedMatrix.Quantize(w.Matrix, dtype);
        var x = TestWeights.RandomVector(rng, 2 * 64);
        x[70] = float.PositiveInfinity;
        var y = new float[16];
        CpuOps.MatMul(x, 2, q.Matrix, y);
        for (int o = 0; o < 8; o++) Assert.True(float.IsFinite(y[o]));
        for (int o = 8; o < 16; o++) Assert.True(float.IsNaN(y[o]));
    }

    [Fact]
    internal void QuantizeRejectsBadArguments()
    {
        var rng = new Random(1);
        using var w = new TestWeights(DType.BF16, 4, 64, rng);
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.Quantize(w.Matrix, DType.BF16));
        using var q = QuantizedMatrix.Quantize(w.Matrix, DType.Int8);
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.Quantize(q.Matrix, DType.Int4));
    }

    // ---------------------------------------------------------------- the reference, written from the format's definition

    private static float[] Reference(float[] x, int rows, WeightMatrix w)
    {
        int k = w.Cols, n = w.Rows, kp = w.PaddedCols, groups = kp / 64;
        var y = new float[rows * n];
        for (int r = 0; r < rows; r++)
        {
            // Int8 weights: the row's activations to [-8191, 8191] with one scale. Int4: each 64-column group to [-127, 127].
            var xq = new int[kp];
            var sxg = new float[groups];
            float sx = 0;
            if (w.DType == DType.Int8)
            {
                float amax = 0;
                for (int i = 0; i < k; i++) amax = Math.Max(amax, Math.Abs(x[r * k + i]));
                float inv = amax == 0 ? 0 : 8191f / amax;
                sx = amax / 8191f;
                for (int i = 0; i < k; i++) xq[i] = (int)Math.Clamp(MathF.Round(x[r * k + i] * inv, MidpointRounding.ToEven), -8191, 8191);
            }
            else
            {
                for (int g = 0; g < groups; g++)
                {
                    float amax = 0;
                    for (int i = g * 64; i < Math.Min(k, g * 64 + 64); i++) amax = Math.Max(amax, Math.Abs(x[r * k + i]));
                    float inv = amax == 0 ? 0 : 127f / amax;
                    sxg[g] = amax / 127f;
                    for (int i = g * 64; i < Math.Min(k, g * 64 + 64); i++) xq[i] = (int)Math.Clamp(MathF.Round(x[r * k + i] * inv, MidpointRounding.ToEven), -127, 127);
                }
            }
            for (int o = 0; o < n; o++)
            {
                if (w.DType == DType.Int8)
                {
                    sbyte* row = (sbyte*)w.Data + o * w.RowBytes;
                    long s = 0;
                    for (int i = 0; i < kp; i++) s += xq[i] * row[i];
                    y[r * n + o] = ((float)s * ((float*)w.Scales)[o]) * sx;
                }
                else
                {
                    byte* row = (byte*)w.Data + o * w.RowBytes;
                    var lanes = new float[16];
                    for (int g = 0; g < groups; g++)
                    {
                        for (int l = 0; l < 16; l++)
                        {
                            // Lanes 0-7 are columns 0-31 (the low nibbles, the block's first scale), lanes 8-15 columns 32-63.
                            int half = l / 8;
                            float scale = ((float*)w.Scales)[o * groups * 2 + g * 2 + half] * sxg[g];
                            // Signed weights directly: lane l of group g is the exact integer sum of its 4 columns.
                            int t = 0;
                            for (int b = 0; b < 4; b++)
                            {
                                int c = 4 * l + b;
                                byte packed = row[g * 32 + c % 32];
                                int qv = (c < 32 ? packed & 0xF : packed >> 4) - 8;
                                t += qv * xq[g * 64 + c];
                            }
                            // The kernel's lanes 0 and 8 carry -8 * sum(x) of their half; every lane the unsigned products.
                            int lane = 0;
                            int halfSum = 0;
                            for (int c = half * 32; c < half * 32 + 32; c++) halfSum += xq[g * 64 + c];
                            for (int b = 0; b < 4; b++)
                            {
                                int c = 4 * l + b;
                                lane += 8 * xq[g * 64 + c];
                            }
                            int laneValue = t + lane - (l % 8 == 0 ? 8 * halfSum : 0);
                            lanes[l] = MathF.FusedMultiplyAdd(laneValue, scale, lanes[l]);
                        }
                    }
                    var b8 = new float[8];
                    for (int i = 0; i < 8; i++) b8[i] = lanes[i] + lanes[i + 8];
                    float c0 = b8[0] + b8[4], c1 = b8[1] + b8[5], c2 = b8[2] + b8[6], c3 = b8[3] + b8[7];
                    y[r * n + o] = (c0 + c2) + (c1 + c3);
                }
            }
        }
        return y;
    }
}
