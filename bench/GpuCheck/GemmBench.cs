using System.Diagnostics;
using PagedAttention.Kernels.Cuda;

namespace GpuCheck;

/// <summary>
/// bf16 GEMMs at the Llama-3-8B shapes (merged QKV, O, merged gate|up, down, LM head) for M = 1..4096 rows, with the
/// output type the model uses for each (bf16 for QKV and gate|up, fp32 otherwise), on each GEMM path: cublasGemmEx,
/// cuBLASLt with the heuristic's choice per bucket (the default) and cuBLASLt with the timed search. Microseconds,
/// TB/s of weights + activations moved, and TFLOP/s. Each case is launched 50 times back to back after a warm-up and
/// timed to the final synchronize.
/// </summary>
internal static class GemmBench
{
    public static void Run(CudaDevice d)
    {
        (string Name, int N, int K, bool F32)[] shapes =
            [("qkv", 6144, 4096, false), ("o", 4096, 4096, true), ("gate_up", 28672, 4096, false), ("down", 4096, 14336, true), ("lm_head", 128256, 4096, true)];
        int[] ms = [1, 8, 64, 128, 256, 512, 4096];
        const int reps = 50;
        var blas = d.Blas;
        bool lt0 = blas.UseLt, timed0 = blas.TimedAlgorithmSearch;
        try
        {
            foreach (var (name, n, k, f32) in shapes)
            {
                int maxM = name == "lm_head" ? 512 : ms[^1];
                using var w = d.Allocate((long)n * k * 2);
                using var x = d.Allocate((long)maxM * k * 2);
                using var y = d.Allocate((long)maxM * n * 4);
                w.Clear(); x.Clear();
                foreach (int m in ms.Where(m => m <= maxM))
                {
                    var line = new List<string>();
                    foreach (var (mode, useLt, timed) in new[] { ("gemmex", false, false), ("lt", true, false), ("lt-timed", true, true) })
                    {
                        blas.UseLt = useLt;
                        blas.TimedAlgorithmSearch = timed;
                        for (int i = 0; i < 3; i++) blas.Gemm(x.Ptr, w.Ptr, y.Ptr, m, n, k, f32);
                        d.Synchronize();
                        var sw = Stopwatch.StartNew();
                        for (int i = 0; i < reps; i++) blas.Gemm(x.Ptr, w.Ptr, y.Ptr, m, n, k, f32);
                        d.Synchronize();
                        double us = sw.Elapsed.TotalMilliseconds * 1e3 / reps;
                        double bytes = 2.0 * n * k + 2.0 * m * k + (f32 ? 4.0 : 2.0) * m * n;
                        double flops = 2.0 * m * n * k;
                        line.Add($"{mode} {us:F1} us {bytes / us / 1e6:F2} TB/s {flops / us / 1e6:F0} TFLOP/s");
                        if (timed) line.AddRange(blas.DescribePlans().Where(p => p.StartsWith($"m<={GemmBucket.Of(m)} n={n} k={k} ", StringComparison.Ordinal)));
                    }
                    Console.WriteLine($"RESULT gemm {name} m={m} n={n} k={k} out={(f32 ? "f32" : "bf16")} (weights {2.0 * n * k / 1e6:F0} MB): {string.Join(" | ", line)}");
                }
            }
        }
        finally
        {
            blas.UseLt = lt0;
            blas.TimedAlgorithmSearch = timed0;
        }
    }
}
