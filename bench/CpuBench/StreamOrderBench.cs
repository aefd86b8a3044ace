using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;

namespace CpuBench;

/// <summary>
/// Diagnostic (`--sections streams`): how the order of weight reads sets single-thread GEMV bandwidth from DRAM.
/// 512 MiB of bf16 weights as one matrix [rows, K] for K = 1,024 / 2,048 / 4,096, one row of x, one thread:
/// (a) 8 weight rows in lockstep with no software prefetch (the 1×8 tile before 2026-12-03), (b) one row at a time
/// (a single sequential stream, as llama.cpp's vec_dot walks rows), (c) the shipped <see cref="CpuGemm"/> (1×8 tile
/// plus <see cref="StreamPrefetch"/> of the next tile in address order). The three alternate in every round.
/// </summary>
internal static unsafe class StreamOrderBench
{
    public static void Run(int rounds)
    {
        const long bytes = 512L << 20;
        using var w = NativeBuffer.RandomWeights(DType.BF16, bytes / 2, 21);
        using var pool1 = new CpuWorkerPool(1);
        var x = new float[4096];
        for (int i = 0; i < x.Length; i++) x[i] = 0.001f * (i % 97);
        Console.WriteLine("| K (columns) | 8 rows in lockstep, no prefetch GB/s | one row at a time GB/s | shipped: 8 rows + next-tile prefetch GB/s |\n| --- | --- | --- | --- |");
        foreach (int k in new[] { 1024, 2048, 4096 })
        {
            int rows = (int)(bytes / (2L * k));
            var y = new float[rows];
            var a = new List<double>(); var b = new List<double>(); var c = new List<double>();
            fixed (float* xp = x, yp = y)
            {
                var m = new WeightMatrix((nint)w.Pointer, DType.BF16, rows, k);
                for (int r = 0; r < rounds; r++)
                {
                    long t = Stopwatch.GetTimestamp();
                    Lockstep8(xp, k, w.Pointer, rows, yp);
                    a.Add(GBs(t, bytes));
                    t = Stopwatch.GetTimestamp();
                    OneRow(xp, k, w.Pointer, rows, yp);
                    b.Add(GBs(t, bytes));
                    t = Stopwatch.GetTimestamp();
                    CpuGemm.MatMul(xp, 1, m, yp, pool1);
                    c.Add(GBs(t, bytes));
                }
            }
            Console.WriteLine($"| {k} | {Timing.Median(a.ToArray()):F1} ({a.Min():F1}–{a.Max():F1}) | {Timing.Median(b.ToArray()):F1} ({b.Min():F1}–{b.Max():F1}) | {Timing.Median(c.ToArray()):F1} ({c.Min():F1}–{c.Max():F1}) |");
        }
    }

    private static double GBs(long start, long bytes) => bytes / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> W16(byte* p) => Vector512.ShiftLeft(Avx512F.ConvertToVector512Int32(Vector256.Load((ushort*)p)), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneRow(float* x, int k, byte* w, int rows, float* y)
    {
        if (!Avx512F.IsSupported) return;
        long ws = 2L * k;
        for (int o = 0; o < rows; o++)
        {
            byte* r = w + o * ws;
            var c = Vector512<float>.Zero;
            for (int i = 0; i < k; i += 16) c = Vector512.FusedMultiplyAdd(Vector512.Load(x + i), W16(r + 2 * i), c);
            y[o] = Vector512.Sum(c);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Lockstep8(float* x, int k, byte* w, int rows, float* y)
    {
        if (!Avx512F.IsSupported) return;
        long ws = 2L * k;
        for (int o = 0; o + 8 <= rows; o += 8)
        {
            byte* r0 = w + o * ws, r1 = r0 + ws, r2 = r1 + ws, r3 = r2 + ws, r4 = r3 + ws, r5 = r4 + ws, r6 = r5 + ws, r7 = r6 + ws;
            Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
            for (int i = 0; i < k; i += 16)
            {
                var a = Vector512.Load(x + i);
                c0 = Vector512.FusedMultiplyAdd(a, W16(r0 + 2 * i), c0); c1 = Vector512.FusedMultiplyAdd(a, W16(r1 + 2 * i), c1);
                c2 = Vector512.FusedMultiplyAdd(a, W16(r2 + 2 * i), c2); c3 = Vector512.FusedMultiplyAdd(a, W16(r3 + 2 * i), c3);
                c4 = Vector512.FusedMultiplyAdd(a, W16(r4 + 2 * i), c4); c5 = Vector512.FusedMultiplyAdd(a, W16(r5 + 2 * i), c5);
                c6 = Vector512.FusedMultiplyAdd(a, W16(r6 + 2 * i), c6); c7 = Vector512.FusedMultiplyAdd(a, W16(r7 + 2 * i), c7);
            }
            y[o] = Vector512.Sum(c0); y[o + 1] = Vector512.Sum(c1); y[o + 2] = Vector512.Sum(c2); y[o + 3] = Vector512.Sum(c3);
            y[o + 4] = Vector512.Sum(c4); y[o + 5] = Vector512.Sum(c5); y[o + 6] = Vector512.Sum(c6); y[o + 7] = Vector512.Sum(c7);
        }
    }
}
