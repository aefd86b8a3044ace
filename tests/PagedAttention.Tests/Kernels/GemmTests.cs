using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;

namespace PagedAttention.Tests.Kernels;

public class GemmTests
{
    // Untyped rows: the kernels' types are internal, so a public data member cannot name DType (the theories that
    // take it are internal methods, which xunit runs the same).
    public static IEnumerable<object[]> Shapes()
    {
        var data = new List<object[]>();
        foreach (var dt in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            foreach (int rows in new[] { 1, 3, 4, 9 })
            {
                data.Add([dt, rows, 1, 1]);
                data.Add([dt, rows, 15, 5]);
                data.Add([dt, rows, 17, 67]);
                data.Add([dt, rows, 133, 130]);
                data.Add([dt, rows, 256, 259]);
            }
            // Rows of at least CpuGemm.RowAtATimeBelowBytes: a single row of x takes the 1x8 tile (shorter rows go one
            // weight row at a time).
            data.Add([dt, 1, 2100, 21]);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    internal void MatchesScalarReference(DType dtype, int rows, int k, int n)
    {
        var rng = new Random(k * 31 + n + rows);
        using var w = new TestWeights(dtype, n, k, rng);
        var x = TestWeights.RandomVector(rng, rows * k);
        var y = new float[rows * n];
        CpuOps.MatMul(x, rows, w.Matrix, y);
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < n; o++)
            {
                double exact = 0, mag = 0;
                for (int i = 0; i < k; i++)
                {
                    exact += (double)x[r * k + i] * w.Matrix[o, i];
                    mag += Math.Abs((double)x[r * k + i] * w.Matrix[o, i]);
                }
                Assert.True(Math.Abs(y[r * n + o] - exact) <= 1e-5 * mag + 1e-6, $"row {r} col {o}: {y[r * n + o]} vs {exact}");
            }
        }
    }

    [Theory]
    [InlineData(DType.F32, 259)]
    [InlineData(DType.F16, 259)]
    [InlineData(DType.BF16, 259)]
    [InlineData(DType.F32, 1031)] // rows of >= 4 KiB: the single row takes the 1x8 tile, not one row at a time
    [InlineData(DType.BF16, 2100)]
    internal void RowResultIsIndependentOfBatchAndThreads(DType dtype, int k)
    {
        const int rows = 64, n = 131;
        var rng = new Random(7);
        using var w = new TestWeights(dtype, n, k, rng);
        var x = TestWeights.RandomVector(rng, rows * k);
        var batched = new float[rows * n];
        CpuOps.MatMul(x, rows, w.Matrix, batched);

        using var pool3 = new CpuWorkerPool(3);
        var batched3 = new float[rows * n];
        CpuOps.MatMul(x, rows, w.Matrix, batched3, pool3);
        Assert.Equal(batched, batched3);

        var single = new float[n];
        for (int r = 0; r < rows; r++)
        {
            CpuOps.MatMul(x.AsSpan(r * k, k), 1, w.Matrix, single);
            Assert.True(single.AsSpan().SequenceEqual(batched.AsSpan(r * n, n)), $"row {r} differs alone vs in a batch");
        }
        // An odd batch (rows 5..11) exercises the 4-row tile and the 1-row tail on rows that were in 4-row tiles above.
        var part = new float[7 * n];
        CpuOps.MatMul(x.AsSpan(5 * k, 7 * k), 7, w.Matrix, part);
        Assert.True(part.AsSpan().SequenceEqual(batched.AsSpan(5 * n, 7 * n)));
    }

    [Theory]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    internal unsafe void WidenedAtLoadGivesTheSameProduct(DType dtype)
    {
        const int n = 37, k = 70;
        var rng = new Random(3);
        using var w = new TestWeights(dtype, n, k, rng);
        var wide = new float[n * k];
        CpuOps.WidenToF32(w.Matrix, wide);
        for (int o = 0; o < n; o++)
            for (int i = 0; i < k; i++) Assert.Equal(w.Matrix[o, i], wide[o * k + i]);
        var x = TestWeights.RandomVector(rng, 5 * k);
        var y1 = new float[5 * n];
        var y2 = new float[5 * n];
        CpuOps.MatMul(x, 5, w.Matrix, y1);
        fixed (float* p = wide) CpuOps.MatMul(x, 5, new WeightMatrix((nint)p, DType.F32, n, k), y2);
        Assert.Equal(y1, y2); // same widened values, same operation order
    }

    [Fact]
    public void RejectsShortBuffers()
    {
        using var w = new TestWeights(DType.F32, 4, 8, new Random(1));
        Assert.Throws<ArgumentException>(() => CpuOps.MatMul(new float[7], 1, w.Matrix, new float[4]));
        Assert.Throws<ArgumentException>(() => CpuOps.MatMul(new float[8], 1, w.Matrix, new float[3]));
    }
}
