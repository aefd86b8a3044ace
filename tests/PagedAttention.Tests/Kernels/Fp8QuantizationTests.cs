using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;

namespace PagedAttention.Tests.Kernels;

/// <summary>
/// FP8 E4M3 weights quantized at load (<see cref="QuantizedMatrix.Quantize"/> with <see cref="DType.F8E4M3"/>, the rule of
/// <see cref="Fp8Quantizer"/>): the error bound of a 3-bit mantissa, the row maximum landing on 448 exactly, zero rows,
/// and non-finite weights refused.
/// </summary>
public unsafe class Fp8QuantizationTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    internal void ErrorIsWithinHalfAnE4M3Step(DType source)
    {
        var rng = new Random(5);
        using var w = new TestWeights(source, 7, 203, rng);
        using var q = QuantizedMatrix.Quantize(w.Matrix, DType.F8E4M3);
        var m = q.Matrix;
        Assert.Equal(DType.F8E4M3, m.DType);
        for (int r = 0; r < 7; r++)
        {
            float amax = 0;
            for (int c = 0; c < 203; c++) amax = MathF.Max(amax, MathF.Abs(w.Matrix[r, c]));
            float s = ((float*)m.Scales)[r];
            Assert.Equal(Fp8Quantizer.RowScale(amax), s);
            for (int c = 0; c < 203; c++)
            {
                float v = w.Matrix[r, c], got = m[r, c];
                // Normal E4M3 values keep 3 mantissa bits (half a step = 2^-4 relative); below 2^-6 the step is 2^-9 absolute.
                float bound = MathF.Max(MathF.Abs(v) / 16f, s * MathF.Pow(2, -10)) * 1.0001f;
                Assert.True(MathF.Abs(got - v) <= bound, $"[{r},{c}] {got} vs {v} (bound {bound})");
                if (MathF.Abs(v) == amax) Assert.Equal(amax, MathF.Abs(got), amax * 1e-6f);
            }
        }
    }

    [Fact]
    public void RowQuantizerMatchesTheCodecAndHandlesZeroRows()
    {
        var row = new float[] { 0.5f, -1.75f, 3.5f, 1e-4f, 0f };
        var codes = new byte[row.Length];
        float s = Fp8Quantizer.QuantizeRow(row, codes);
        Assert.Equal(3.5f / 448f, s);
        for (int i = 0; i < row.Length; i++) Assert.Equal(Fp8E4M3.FromSingle(row[i] / s), codes[i]);
        Assert.Equal(448f, Fp8E4M3.ToSingle(codes[2]));
        var zeros = new byte[3];
        Assert.Equal(1f, Fp8Quantizer.QuantizeRow(new float[3], zeros));
        Assert.All(zeros, b => Assert.Equal(0, b));
        Assert.Throws<ArgumentException>(() => Fp8Quantizer.QuantizeRow(row, new byte[2]));
    }

    [Fact]
    internal void NonFiniteWeightsAreRefused()
    {
        using var w = new TestWeights(DType.F32, 3, 40, new Random(1));
        ((float*)(void*)w.Matrix.Data)[1 * 40 + 7] = float.PositiveInfinity;
        var e = Assert.Throws<ArgumentException>(() => QuantizedMatrix.Quantize(w.Matrix, DType.F8E4M3));
        Assert.Contains("non-finite value in row 1", e.Message);
    }
}
