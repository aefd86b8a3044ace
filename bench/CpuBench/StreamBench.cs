using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using PagedAttention.Kernels.Cpu;

namespace CpuBench;

/// <summary>
/// STREAM-like bandwidth on the same worker pool the kernels use: copy (c = a), triad (a = b + s*c), and a
/// read-only sum, which is the access pattern of a decode GEMV (with software prefetch 4 KiB ahead, as the GEMV tiles
/// prefetch their next rows). Bytes are counted as STREAM does (no write-allocate).
/// </summary>
internal static unsafe class StreamBench
{
    private struct Job
    {
        public float* A, B, C;
        public long N;
        public int Tasks;
        public float* Partial;
    }

    public sealed record Result(double CopyGBs, double TriadGBs, double ReadGBs);

    public static Result Run(CpuWorkerPool pool, long n, int reps)
    {
        using var a = new NativeBuffer(n * 4);
        using var b = new NativeBuffer(n * 4);
        using var c = new NativeBuffer(n * 4);
        var partial = new float[1024];
        fixed (float* pp = partial)
        {
            var job = new Job { A = (float*)a.Pointer, B = (float*)b.Pointer, C = (float*)c.Pointer, N = n, Tasks = 64, Partial = pp };
            var pj = &job;
            pool.Run(&Init, pj, job.Tasks);
            double copy = Timing.MedianSeconds(() => pool.Run(&Copy, pj, pj->Tasks), reps);
            double triad = Timing.MedianSeconds(() => pool.Run(&Triad, pj, pj->Tasks), reps);
            double read = Timing.MedianSeconds(() => pool.Run(&Read, pj, pj->Tasks), reps);
            return new Result(2.0 * n * 4 / copy / 1e9, 3.0 * n * 4 / triad / 1e9, 1.0 * n * 4 / read / 1e9);
        }
    }

    private static (long, long) Range(Job* j, int task)
    {
        long per = (j->N / j->Tasks) & ~63L;
        long start = task * per, end = task == j->Tasks - 1 ? j->N : start + per;
        return (start, end);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Init(void* ctx, int task)
    {
        var j = (Job*)ctx;
        var (s, e) = Range(j, task);
        for (long i = s; i < e; i++) { j->A[i] = 1; j->B[i] = 2; j->C[i] = 0; }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Copy(void* ctx, int task)
    {
        var j = (Job*)ctx;
        var (s, e) = Range(j, task);
        long i = s;
        for (; i + 16 <= e; i += 16) Vector512.Load(j->A + i).Store(j->C + i);
        for (; i < e; i++) j->C[i] = j->A[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Triad(void* ctx, int task)
    {
        var j = (Job*)ctx;
        var (s, e) = Range(j, task);
        var k = Vector512.Create(3f);
        long i = s;
        for (; i + 16 <= e; i += 16) Vector512.FusedMultiplyAdd(k, Vector512.Load(j->C + i), Vector512.Load(j->B + i)).Store(j->A + i);
        for (; i < e; i++) j->A[i] = j->B[i] + 3f * j->C[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Read(void* ctx, int task)
    {
        var j = (Job*)ctx;
        var (s, e) = Range(j, task);
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        long i = s;
        for (; i + 64 <= e; i += 64)
        {
            // Prefetch 4 KiB ahead into L2: without it one thread read 12-17 GB/s here while the GEMV kernels (which
            // prefetch their next rows) pulled 20-24, so the "roofline" was below what the kernels reach.
            byte* ahead = (byte*)(j->A + i) + 4096;
            StreamPrefetch.Lines(ahead, 256);
            acc0 += Vector512.Load(j->A + i);
            acc1 += Vector512.Load(j->A + i + 16);
            acc2 += Vector512.Load(j->A + i + 32);
            acc3 += Vector512.Load(j->A + i + 48);
        }
        float sum = Vector512.Sum(acc0 + acc1 + acc2 + acc3);
        for (; i < e; i++) sum += j->A[i];
        j->Partial[task] = sum; // keeps the loads alive
    }
}
