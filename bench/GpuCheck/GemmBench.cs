using System.Diagnostics;
using PagedAttention.Kernels.Cuda;

namespace GpuCheck;

/// <summary>
/// cuBLAS bf16 GEMMs at the Llama-3-8B decode shapes (merged QKV, O, merged gate|up, down, LM head) for M = 1..512
/// rows, with fp32 and bf16 outputs: microseconds, TB/s of weights + activations moved, and TFLOP/s.
/// Each case is launched 50 times back to back after a warm-up and timed to the final synchronize.
/// </summary>
internal static class GemmBench
{
    public static void Run(CudaDevice d)
    {
        (string Name, int N, int K)[] shapes = [("qkv", 6144, 4096), ("o", 4096, 4096), ("gate_up", 28672, 4096), ("down", 4096, 14336), ("lm_head", 128256, 4096)];
        int[] ms = [1, 8, 64, 256, 512];
        const int reps = 50;
        foreach (var (name, n, k) in shapes)
        {
            using var w = d.Allocate((long)n * k * 2);
            using var x = d.Allocate((long)ms[^1] * k * 2);
            using var y = d.Allocate((long)ms[^1] * n * 4);
            w.Clear(); x.Clear();
            foreach (int m in ms)
                foreach (bool f32 in new[] { true, false })
                {
                    for (int i = 0; i < 3; i++) d.Blas.Gemm(x.Ptr, w.Ptr, y.Ptr, m, n, k, f32);
                    d.Synchronize();
                    var sw = Stopwatch.StartNew();
                    for (int i = 0; i < reps; i++) d.Blas.Gemm(x.Ptr, w.Ptr, y.Ptr, m, n, k, f32);
                    d.Synchronize();
                    double us = sw.Elapsed.TotalMilliseconds * 1e3 / reps;
                    double bytes = 2.0 * n * k + 2.0 * m * k + (f32 ? 4.0 : 2.0) * m * n;
                    double flops = 2.0 * m * n * k;
                    Console.WriteLine($"RESULT gemm {name} m={m} n={n} k={k} out={(f32 ? "f32" : "bf16")}: {us:F1} us, {bytes / us / 1e6:F2} TB/s, {flops / us / 1e6:F1} TFLOP/s (weights {2.0 * n * k / 1e6:F0} MB)");
                }
        }
    }
}
