using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;

namespace PagedAttention.Tests.Kernels;

public class ElementwiseTests
{
    private static void Close(float expected, float actual, double tol, string what) =>
        Assert.True(Math.Abs(expected - actual) <= tol * Math.Max(1, Math.Abs(expected)), $"{what}: {actual} vs {expected}");

    [Theory]
    [InlineData(1, 7)]
    [InlineData(3, 33)]
    [InlineData(5, 2048)]
    public void RmsNormMatchesScalar(int rows, int d)
    {
        var rng = new Random(d);
        var x = TestWeights.RandomVector(rng, rows * d, 3f);
        var w = TestWeights.RandomVector(rng, d);
        var y = new float[x.Length];
        CpuOps.RmsNorm(x, w, 1e-5f, y);
        for (int r = 0; r < rows; r++)
        {
            double ss = 0;
            for (int i = 0; i < d; i++) ss += (double)x[r * d + i] * x[r * d + i];
            double inv = 1 / Math.Sqrt(ss / d + 1e-5);
            for (int i = 0; i < d; i++) Close((float)(x[r * d + i] * inv * w[i]), y[r * d + i], 1e-5, $"[{r},{i}]");
        }
        // Row 0 alone gives the same bits as in the batch.
        var alone = new float[d];
        CpuOps.RmsNorm(x.AsSpan(0, d), w, 1e-5f, alone);
        Assert.True(alone.AsSpan().SequenceEqual(y.AsSpan(0, d)));
    }

    [Theory]
    [InlineData(6, 3)]
    [InlineData(34, 2)]
    [InlineData(64, 4)]
    [InlineData(128, 1)]
    public void RopeMatchesScalar(int headDim, int numHeads)
    {
        var rng = new Random(headDim);
        int half = headDim / 2;
        int[] positions = [0, 1, 17, 4095];
        var invFreq = Enumerable.Range(0, half).Select(i => (float)Math.Pow(10000, -2.0 * i / headDim)).ToArray();
        var x = TestWeights.RandomVector(rng, positions.Length * numHeads * headDim);
        var y = (float[])x.Clone();
        CpuOps.Rope(y, numHeads, headDim, positions, invFreq, 1.25f);
        for (int t = 0; t < positions.Length; t++)
            for (int h = 0; h < numHeads; h++)
                for (int i = 0; i < half; i++)
                {
                    int b0 = (t * numHeads + h) * headDim;
                    float f = positions[t] * invFreq[i];
                    double c = Math.Cos(f) * 1.25, s = Math.Sin(f) * 1.25;
                    double a = x[b0 + i], bb = x[b0 + i + half];
                    Close((float)(a * c - bb * s), y[b0 + i], 1e-5, "first half");
                    Close((float)(bb * c + a * s), y[b0 + i + half], 1e-5, "second half");
                }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(255)]
    [InlineData(1000)]
    public void SiluMulMatchesScalarAndAllowsAliasing(int n)
    {
        var rng = new Random(n);
        var g = TestWeights.RandomVector(rng, n, 8f);
        var u = TestWeights.RandomVector(rng, n, 2f);
        var y = new float[n];
        CpuOps.SiluMul(g, u, y);
        for (int i = 0; i < n; i++) Close((float)(g[i] / (1 + Math.Exp(-g[i])) * u[i]), y[i], 1e-5, $"[{i}]");
        var inPlace = (float[])g.Clone();
        CpuOps.SiluMul(inPlace, u, inPlace);
        Assert.Equal(y, inPlace);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(19)]
    [InlineData(32000)]
    public void SoftmaxMatchesScalar(int n)
    {
        var x = TestWeights.RandomVector(new Random(n), n, 20f);
        var y = (float[])x.Clone();
        CpuOps.Softmax(y);
        double max = x.Max(), sum = x.Sum(v => Math.Exp(v - max));
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(Math.Exp(x[i] - max) / sum - y[i]) < 1e-6, $"[{i}]");
    }

    [Theory]
    [InlineData(DType.F32, 37)]
    [InlineData(DType.F16, 37)]
    [InlineData(DType.BF16, 37)]
    [InlineData(DType.BF16, 2048)]
    internal void EmbeddingGathersWidenedRows(DType dtype, int d)
    {
        using var table = new TestWeights(dtype, 50, d, new Random(d));
        int[] ids = [3, 0, 49, 3];
        var y = new float[ids.Length * d];
        CpuOps.Embedding(ids, table.Matrix, y);
        for (int t = 0; t < ids.Length; t++)
            for (int i = 0; i < d; i++) Assert.Equal(table.Matrix[ids[t], i], y[t * d + i]);
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuOps.Embedding([50], table.Matrix, y));
    }

    [Fact]
    public unsafe void F16WideningIsExactForEveryHalf()
    {
        // All 65536 bit patterns: normals, subnormals, zeros, infinities, NaNs, both signs.
        var bits = new ushort[65536];
        for (int i = 0; i < bits.Length; i++) bits[i] = (ushort)i;
        var y = new float[bits.Length];
        fixed (ushort* p = bits)
            CpuOps.Embedding([0], new WeightMatrix((nint)p, DType.F16, 1, bits.Length), y);
        for (int i = 0; i < bits.Length; i++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf(bits[i]);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(y[i]), $"0x{i:x4}");
            else Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(y[i]));
        }
    }

    [Fact]
    public unsafe void F16ScalarWideningIsExactForEveryHalf()
    {
        // The GEMV tiles' scalar tails use F16Widener.Load1 (integer steps, no call): the same 65536 patterns.
        var bits = new ushort[65536];
        for (int i = 0; i < bits.Length; i++) bits[i] = (ushort)i;
        fixed (ushort* p = bits)
            for (int i = 0; i < bits.Length; i++)
            {
                float expected = (float)BitConverter.UInt16BitsToHalf(bits[i]), got = F16Widener.Load1((byte*)p, i);
                if (float.IsNaN(expected)) Assert.True(float.IsNaN(got), $"0x{i:x4}");
                else Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(got));
            }
    }

    [Fact]
    public void AddAndAddBias()
    {
        var rng = new Random(5);
        var x = TestWeights.RandomVector(rng, 3 * 19);
        var y = TestWeights.RandomVector(rng, 3 * 19);
        var bias = TestWeights.RandomVector(rng, 19);
        var expected = y.Select((v, i) => v + x[i] + bias[i % 19]).ToArray();
        CpuOps.Add(x, y);
        CpuOps.AddBias(y, bias);
        for (int i = 0; i < y.Length; i++) Close(expected[i], y[i], 1e-6, $"[{i}]");
    }
}
