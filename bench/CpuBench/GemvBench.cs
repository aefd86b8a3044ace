using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;

namespace CpuBench;

/// <summary>GEMV/GEMM on big weight matrices: effective weight bandwidth (decode) and GFLOP/s (multi-row).</summary>
internal static unsafe class GemvBench
{
    public sealed record Row(string Name, DType DType, int Rows, int N, int K, int Threads, double Seconds)
    {
        public long WeightBytes => (long)N * K * DType.SizeInBytes();
        public double GBs => WeightBytes / Seconds / 1e9;
        public double GFlops => 2.0 * Rows * N * K / Seconds / 1e9;
    }

    public static Row Measure(string name, DType dtype, int rows, int n, int k, CpuWorkerPool pool, int reps, NativeBuffer? weights = null)
    {
        using var own = weights is null ? NativeBuffer.RandomWeights(dtype, (long)n * k, (ulong)(n + k)) : null;
        var w = new WeightMatrix((nint)(weights ?? own!).Pointer, dtype, n, k);
        var x = new float[rows * k];
        var rng = new Random(1);
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble() - 0.5f;
        var y = new float[rows * n];
        double s = Timing.MedianSeconds(() => CpuOps.MatMul(x, rows, w, y, pool), reps);
        return new Row(name, dtype, rows, n, k, pool.ThreadCount, s);
    }

    /// <summary>Seconds for 200 GEMVs of a 64 x 1024 matrix that stays in L2 (compute rate, not bandwidth).</summary>
    public static double InCache(DType dt, CpuWorkerPool pool, int reps)
    {
        using var wb = NativeBuffer.RandomWeights(dt, 64L * 1024, 3);
        var w = new WeightMatrix((nint)wb.Pointer, dt, 64, 1024);
        var x = new float[1024];
        var y = new float[64];
        return Timing.MedianSeconds(() => { for (int i = 0; i < 200; i++) CpuOps.MatMul(x, 1, w, y, pool); }, reps);
    }

    /// <summary>The same bf16 matrix widened to f32 once (the "convert at load" alternative).</summary>
    public static NativeBuffer WidenToF32(NativeBuffer bf16, long elements)
    {
        var f = new NativeBuffer(elements * 4);
        var src = (ushort*)bf16.Pointer;
        var dst = (float*)f.Pointer;
        for (long i = 0; i < elements; i++) dst[i] = BitConverter.Int32BitsToSingle(src[i] << 16);
        return f;
    }
}
