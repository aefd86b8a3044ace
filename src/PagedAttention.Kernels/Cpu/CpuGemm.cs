using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// y[r, o] = dot(x[r, :], w[o, :]) with weights widened to float32 on the fly, split over the worker pool by
/// ranges of output features. Register-blocked tiles of 4 input rows x 4 weight rows let each widened weight
/// vector feed 4 FMAs (prefill and batched decode); a single row (GEMV) uses 1 x 8 tiles, because 8 concurrent
/// weight streams keep more cache misses in flight per core than 4 (decode is bound by memory-level parallelism).
/// </summary>
/// <remarks>
/// Determinism: every dot product is accumulated in one Vector512 over k in steps of 16, reduced with
/// <see cref="Vector512.Sum{T}(Vector512{T})"/>, and finished with a scalar tail in index order — the same
/// sequence of operations in every tile shape. A row's output therefore does not depend on how many rows are in
/// the batch, where in the batch it is, or how the work is split across threads.
/// </remarks>
internal static unsafe partial class CpuGemm
{
    // Kernels are marked AggressiveOptimization: Tier-0 code for Vector512 loops is ~10x slower, and the first
    // tokens an engine produces should not pay for JIT tiering.

    // Weight rows handled per inner pass: 64 rows x 4096 bf16 = 512 KiB, which stays in L2 while every
    // 4-row block of x streams past it.
    private const int SubChunk = 64;

    // Below this many multiply-adds a dispatch to the pool costs more than it saves.
    private const long InlineWork = 1L << 15;

    private struct Job
    {
        public float* X;
        public float* Y;
        public byte* W;
        public int Rows;
        public int K;
        public int N;
        public int Chunk;
    }

    /// <summary>Runs the product on <paramref name="pool"/>. All pointers must cover rows x K, rows x N and N x K.</summary>
    public static void MatMul(float* x, int rows, in WeightMatrix w, float* y, CpuWorkerPool pool)
    {
        if (rows <= 0) return;
        var job = new Job { X = x, Y = y, W = (byte*)w.Data, Rows = rows, K = w.Cols, N = w.Rows };
        int n = w.Rows;
        int tasks = 1;
        job.Chunk = n;
        if ((long)rows * n * w.Cols >= InlineWork && pool.ThreadCount > 1)
        {
            // ~4 tasks per thread balances load when a core is busy with something else (shared machines).
            int target = pool.ThreadCount * 4;
            int chunk = (n + target - 1) / target;
            chunk = Math.Max(16, (chunk + 3) & ~3);
            job.Chunk = chunk;
            tasks = (n + chunk - 1) / chunk;
        }
        // Without AVX-512, Vector512 is emulated with two 256-bit halves in software (~2.5x slower on prefill),
        // so such machines get the same tiles written with Vector256.
        bool wide = Vector512.IsHardwareAccelerated || !Vector256.IsHardwareAccelerated;
        delegate*<void*, int, void> body = (w.DType, wide) switch
        {
            (DType.F32, true) => &Body<F32Widener>,
            (DType.F16, true) => &Body<F16Widener>,
            (DType.BF16, true) => &Body<Bf16Widener>,
            (DType.F32, false) => &Body256<F32Widener>,
            (DType.F16, false) => &Body256<F16Widener>,
            (DType.BF16, false) => &Body256<Bf16Widener>,
            _ => throw new NotSupportedException($"Weight dtype {w.DType} is not supported."),
        };
        pool.Run(body, &job, tasks);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Body<TW>(void* context, int task) where TW : struct, IWeightWidener
    {
        ref Job j = ref *(Job*)context;
        int o0 = task * j.Chunk, o1 = Math.Min(o0 + j.Chunk, j.N);
        int k = j.K, n = j.N, rows = j.Rows;
        long wStride = (long)k * TW.ElementSize;
        for (int oc = o0; oc < o1; oc += SubChunk)
        {
            int oe = Math.Min(oc + SubChunk, o1);
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                float* xr = j.X + (long)r * k;
                float* yr = j.Y + (long)r * n;
                int o = oc;
                for (; o + 4 <= oe; o += 4) Tile4x4<TW>(xr, k, j.W + o * wStride, wStride, yr + o, n);
                for (; o < oe; o++) Tile4x1<TW>(xr, k, j.W + o * wStride, yr + o, n);
            }
            for (; r < rows; r++)
            {
                float* xr = j.X + (long)r * k;
                float* yr = j.Y + (long)r * n;
                int o = oc;
                for (; o + 8 <= oe; o += 8) Tile1x8<TW>(xr, k, j.W + o * wStride, wStride, yr + o);
                for (; o + 4 <= oe; o += 4) Tile1x4<TW>(xr, k, j.W + o * wStride, wStride, yr + o);
                for (; o < oe; o++) yr[o] = Tile1x1<TW>(xr, k, j.W + o * wStride);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish<TW>(Vector512<float> acc, float* x, byte* w, int from, int k) where TW : struct, IWeightWidener
    {
        float s = Vector512.Sum(acc);
        for (int i = from; i < k; i++) s += x[i] * TW.Load1(w, i);
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4<TW>(float* x0, int k, byte* w0, long ws, float* y, int n) where TW : struct, IWeightWidener
    {
        float* x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        byte* w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        int kv = k & ~15, i = 0;
        for (; i < kv; i += 16)
        {
            var b0 = TW.Load16(w0, i);
            var b1 = TW.Load16(w1, i);
            var b2 = TW.Load16(w2, i);
            var b3 = TW.Load16(w3, i);
            var a = Vector512.Load(x0 + i);
            c00 = Vector512.FusedMultiplyAdd(a, b0, c00); c01 = Vector512.FusedMultiplyAdd(a, b1, c01);
            c02 = Vector512.FusedMultiplyAdd(a, b2, c02); c03 = Vector512.FusedMultiplyAdd(a, b3, c03);
            a = Vector512.Load(x1 + i);
            c10 = Vector512.FusedMultiplyAdd(a, b0, c10); c11 = Vector512.FusedMultiplyAdd(a, b1, c11);
            c12 = Vector512.FusedMultiplyAdd(a, b2, c12); c13 = Vector512.FusedMultiplyAdd(a, b3, c13);
            a = Vector512.Load(x2 + i);
            c20 = Vector512.FusedMultiplyAdd(a, b0, c20); c21 = Vector512.FusedMultiplyAdd(a, b1, c21);
            c22 = Vector512.FusedMultiplyAdd(a, b2, c22); c23 = Vector512.FusedMultiplyAdd(a, b3, c23);
            a = Vector512.Load(x3 + i);
            c30 = Vector512.FusedMultiplyAdd(a, b0, c30); c31 = Vector512.FusedMultiplyAdd(a, b1, c31);
            c32 = Vector512.FusedMultiplyAdd(a, b2, c32); c33 = Vector512.FusedMultiplyAdd(a, b3, c33);
        }
        float* y1 = y + n, y2 = y1 + n, y3 = y2 + n;
        y[0] = Finish<TW>(c00, x0, w0, i, k); y[1] = Finish<TW>(c01, x0, w1, i, k);
        y[2] = Finish<TW>(c02, x0, w2, i, k); y[3] = Finish<TW>(c03, x0, w3, i, k);
        y1[0] = Finish<TW>(c10, x1, w0, i, k); y1[1] = Finish<TW>(c11, x1, w1, i, k);
        y1[2] = Finish<TW>(c12, x1, w2, i, k); y1[3] = Finish<TW>(c13, x1, w3, i, k);
        y2[0] = Finish<TW>(c20, x2, w0, i, k); y2[1] = Finish<TW>(c21, x2, w1, i, k);
        y2[2] = Finish<TW>(c22, x2, w2, i, k); y2[3] = Finish<TW>(c23, x2, w3, i, k);
        y3[0] = Finish<TW>(c30, x3, w0, i, k); y3[1] = Finish<TW>(c31, x3, w1, i, k);
        y3[2] = Finish<TW>(c32, x3, w2, i, k); y3[3] = Finish<TW>(c33, x3, w3, i, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1<TW>(float* x0, int k, byte* w0, float* y, int n) where TW : struct, IWeightWidener
    {
        float* x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        int kv = k & ~15, i = 0;
        for (; i < kv; i += 16)
        {
            var b = TW.Load16(w0, i);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Load(x0 + i), b, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Load(x1 + i), b, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Load(x2 + i), b, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Load(x3 + i), b, c3);
        }
        y[0] = Finish<TW>(c0, x0, w0, i, k);
        y[n] = Finish<TW>(c1, x1, w0, i, k);
        y[2 * n] = Finish<TW>(c2, x2, w0, i, k);
        y[3 * n] = Finish<TW>(c3, x3, w0, i, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x8<TW>(float* x, int k, byte* w0, long ws, float* y) where TW : struct, IWeightWidener
    {
        byte* w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws, w4 = w3 + ws, w5 = w4 + ws, w6 = w5 + ws, w7 = w6 + ws;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        int kv = k & ~15, i = 0;
        for (; i < kv; i += 16)
        {
            var a = Vector512.Load(x + i);
            c0 = Vector512.FusedMultiplyAdd(a, TW.Load16(w0, i), c0);
            c1 = Vector512.FusedMultiplyAdd(a, TW.Load16(w1, i), c1);
            c2 = Vector512.FusedMultiplyAdd(a, TW.Load16(w2, i), c2);
            c3 = Vector512.FusedMultiplyAdd(a, TW.Load16(w3, i), c3);
            c4 = Vector512.FusedMultiplyAdd(a, TW.Load16(w4, i), c4);
            c5 = Vector512.FusedMultiplyAdd(a, TW.Load16(w5, i), c5);
            c6 = Vector512.FusedMultiplyAdd(a, TW.Load16(w6, i), c6);
            c7 = Vector512.FusedMultiplyAdd(a, TW.Load16(w7, i), c7);
        }
        y[0] = Finish<TW>(c0, x, w0, i, k); y[1] = Finish<TW>(c1, x, w1, i, k);
        y[2] = Finish<TW>(c2, x, w2, i, k); y[3] = Finish<TW>(c3, x, w3, i, k);
        y[4] = Finish<TW>(c4, x, w4, i, k); y[5] = Finish<TW>(c5, x, w5, i, k);
        y[6] = Finish<TW>(c6, x, w6, i, k); y[7] = Finish<TW>(c7, x, w7, i, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x4<TW>(float* x, int k, byte* w0, long ws, float* y) where TW : struct, IWeightWidener
    {
        byte* w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        int kv = k & ~15, i = 0;
        for (; i < kv; i += 16)
        {
            var a = Vector512.Load(x + i);
            c0 = Vector512.FusedMultiplyAdd(a, TW.Load16(w0, i), c0);
            c1 = Vector512.FusedMultiplyAdd(a, TW.Load16(w1, i), c1);
            c2 = Vector512.FusedMultiplyAdd(a, TW.Load16(w2, i), c2);
            c3 = Vector512.FusedMultiplyAdd(a, TW.Load16(w3, i), c3);
        }
        y[0] = Finish<TW>(c0, x, w0, i, k);
        y[1] = Finish<TW>(c1, x, w1, i, k);
        y[2] = Finish<TW>(c2, x, w2, i, k);
        y[3] = Finish<TW>(c3, x, w3, i, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Tile1x1<TW>(float* x, int k, byte* w) where TW : struct, IWeightWidener
    {
        Vector512<float> c = default;
        int kv = k & ~15, i = 0;
        for (; i < kv; i += 16) c = Vector512.FusedMultiplyAdd(Vector512.Load(x + i), TW.Load16(w, i), c);
        return Finish<TW>(c, x, w, i, k);
    }
}
