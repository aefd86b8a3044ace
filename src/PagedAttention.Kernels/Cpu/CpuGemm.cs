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
/// Determinism: every dot product is accumulated in one vector over k in steps of its width (Vector512: 16,
/// Vector256: 8), reduced with <see cref="Vector512.Sum{T}(Vector512{T})"/> / <see cref="Vector256.Sum{T}(Vector256{T})"/>,
/// and finished with a scalar tail in index order — the same sequence of operations in every tile shape. A row's output
/// therefore does not depend on how many rows are in the batch, where in the batch it is, or how the work is split
/// across threads. The tiles are written once, generic over the width (<see cref="IVectorWidth{TV}"/>); the JIT
/// specialises them per (dtype, width), so each instantiation is the loop a hand-written copy would be.
/// </remarks>
internal static unsafe class CpuGemm
{
    // Kernels are marked AggressiveOptimization: Tier-0 code for Vector512 loops is ~10x slower, and the first
    // tokens an engine produces should not pay for JIT tiering.

    // Weight rows handled per inner pass: 64 rows x 4096 bf16 = 512 KiB, which stays in L2 while every
    // 4-row block of x streams past it.
    private const int SubChunk = 64;

    // For a single row of x, weight rows shorter than this many bytes are walked one row at a time (see Body; the
    // quantized tiles use the same bound). Measured on the Zen 5 dev VM, 1 thread, 512 MiB of bf16 from DRAM:
    // 1,024 columns (2 KiB rows) 23.2 GB/s one row at a time vs 18.0 for the 1x8 tile with next-tile prefetch;
    // 2,048 (4 KiB): 18.8 vs 18.9; 4,096 (8 KiB): 14.1 vs 18.2.
    internal const int RowAtATimeBelowBytes = 4096;

    // Below this many multiply-adds a dispatch to the pool costs more than it saves.
    private const long InlineWork = 1L << 15;

    // FP8 GEMV scaling (F8E4M3RawWidener): x * 2^80, codes * 2^-120, outputs * 2^40.
    private const float Fp8XScale = 1.2089258196146292e+24f; // 2^80
    private const float Fp8YScale = 1099511627776f; // 2^40

    [ThreadStatic] private static float* t_fp8x;
    [ThreadStatic] private static long t_fp8xCount;

    /// <summary>The calling thread's buffer for the scaled copy of x (grown when a larger batch comes; never freed).</summary>
    private static float* Fp8Scratch(long count)
    {
        if (t_fp8xCount < count)
        {
            if (t_fp8x != null) System.Runtime.InteropServices.NativeMemory.AlignedFree(t_fp8x);
            t_fp8x = null;
            t_fp8xCount = 0;
            long size = Math.Max(count, 1L << 14);
            t_fp8x = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(size * sizeof(float)), 64);
            t_fp8xCount = size;
        }
        return t_fp8x;
    }

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
        if (w.IsQuantized)
        {
            CpuQuantGemm.MatMul(x, rows, w, y, pool);
            return;
        }
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
        // so such machines get the same tiles instantiated for Vector256.
        bool wide = Vector512.IsHardwareAccelerated || !Vector256.IsHardwareAccelerated;
        delegate*<void*, int, void> body = (w.DType, wide) switch
        {
            (DType.F32, true) => &Body<F32Widener, Vector512<float>, Width512>,
            (DType.F16, true) => &Body<F16Widener, Vector512<float>, Width512>,
            (DType.BF16, true) => &Body<Bf16Widener, Vector512<float>, Width512>,
            (DType.F32, false) => &Body<F32Widener, Vector256<float>, Width256>,
            (DType.F16, false) => &Body<F16Widener, Vector256<float>, Width256>,
            (DType.BF16, false) => &Body<Bf16Widener, Vector256<float>, Width256>,
            (DType.F8E4M3, true) => &Body<F8E4M3RawWidener, Vector512<float>, Width512>,
            (DType.F8E4M3, false) => &Body<F8E4M3RawWidener, Vector256<float>, Width256>,
            _ => throw new NotSupportedException($"Weight dtype {w.DType} is not supported."),
        };
        if (w.DType == DType.F8E4M3)
        {
            // FP8: the tiles read codes as value * 2^-120 (F8E4M3RawWidener says why), so x goes in times 2^80 ...
            float* xs = Fp8Scratch((long)rows * w.Cols);
            for (int r = 0; r < rows; r++)
                System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(x + (long)r * w.Cols, w.Cols), Fp8XScale, new Span<float>(xs + (long)r * w.Cols, w.Cols));
            job.X = xs;
        }
        pool.Run(body, &job, tasks);
        if (w.DType == DType.F8E4M3)
        {
            // ... and each output comes out times 2^40 (exact), then gets its row's scale once.
            var scales = new ReadOnlySpan<float>((float*)w.Scales, n);
            for (int r = 0; r < rows; r++)
            {
                var yr = new Span<float>(y + (long)r * n, n);
                System.Numerics.Tensors.TensorPrimitives.Multiply(yr, Fp8YScale, yr);
                System.Numerics.Tensors.TensorPrimitives.Multiply(yr, scales, yr);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Body<TW, TV, TO>(void* context, int task) where TW : struct, IWeightWidener where TV : struct where TO : struct, IVectorWidth<TV>
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
                for (; o + 4 <= oe; o += 4) Tile4x4<TW, TV, TO>(xr, k, j.W + o * wStride, wStride, yr + o, n);
                for (; o < oe; o++) Tile4x1<TW, TV, TO>(xr, k, j.W + o * wStride, yr + o, n);
            }
            for (; r < rows; r++)
            {
                float* xr = j.X + (long)r * k;
                float* yr = j.Y + (long)r * n;
                int o = oc;
                // Not for 1-byte weights (FP8): one row's single FMA chain (16 elements per 4-cycle FMA latency) would
                // cap them at ~4 bytes per cycle, below what the 1x8 tile's 8 independent chains pull.
                if (wStride < RowAtATimeBelowBytes && TW.ElementSize >= 2)
                {
                    // Short rows: one weight row at a time is a single sequential stream, which the hardware prefetcher
                    // follows better than 8 rows in lockstep (bench/CpuBench --sections streams). Same bits: a 1x1
                    // tile does each dot product in the same order as the 1x8 tile.
                    for (; o < oe; o++) yr[o] = Tile1x1<TW, TV, TO>(xr, k, j.W + o * wStride);
                    continue;
                }

                for (; o + 8 <= oe; o += 8) Tile1x8<TW, TV, TO>(xr, k, j.W + o * wStride, wStride, yr + o);
                for (; o + 4 <= oe; o += 4) Tile1x4<TW, TV, TO>(xr, k, j.W + o * wStride, wStride, yr + o);
                for (; o < oe; o++) yr[o] = Tile1x1<TW, TV, TO>(xr, k, j.W + o * wStride);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish<TW, TV, TO>(TV acc, float* x, byte* w, int from, int k) where TW : struct, IWeightWidener where TV : struct where TO : struct, IVectorWidth<TV>
    {
        float s = TO.Sum(acc);
        for (int i = from; i < k; i++) s += x[i] * TW.Load1(w, i);
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4<TW, TV, TO>(float* x0, int k, byte* w0, long ws, float* y, int n) where TW : struct, IWeightWidener where TV : struct where TO : struct, IVectorWidth<TV>
    {
        float* x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        byte* w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws;
        TV c00 = default, c01 = default, c02 = default, c03 = default;
        TV c10 = default, c11 = default, c12 = default, c13 = default;
        TV c20 = default, c21 = default, c22 = default, c23 = default;
        TV c30 = default, c31 = default, c32 = default, c33 = default;
        int kv = k & ~(TO.Count - 1), i = 0;
        // The next 4 weight rows, in address order (StreamPrefetch): this matters on the first block of x rows, which
        // pulls the weights from DRAM; the later blocks find them in L2 and the prefetches are cheap hits.
        byte* pf = w0 + 4 * ws;
        int pfStep = 4 * TO.Count * TW.ElementSize;
        for (; i < kv; i += TO.Count)
        {
            StreamPrefetch.Lines(pf, pfStep);
            pf += pfStep;
            var b0 = TO.LoadWeights<TW>(w0, i);
            var b1 = TO.LoadWeights<TW>(w1, i);
            var b2 = TO.LoadWeights<TW>(w2, i);
            var b3 = TO.LoadWeights<TW>(w3, i);
            var a = TO.Load(x0 + i);
            c00 = TO.FusedMultiplyAdd(a, b0, c00); c01 = TO.FusedMultiplyAdd(a, b1, c01);
            c02 = TO.FusedMultiplyAdd(a, b2, c02); c03 = TO.FusedMultiplyAdd(a, b3, c03);
            a = TO.Load(x1 + i);
            c10 = TO.FusedMultiplyAdd(a, b0, c10); c11 = TO.FusedMultiplyAdd(a, b1, c11);
            c12 = TO.FusedMultiplyAdd(a, b2, c12); c13 = TO.FusedMultiplyAdd(a, b3, c13);
            a = TO.Load(x2 + i);
            c20 = TO.FusedMultiplyAdd(a, b0, c20); c21 = TO.FusedMultiplyAdd(a, b1, c21);
            c22 = TO.FusedMultiplyAdd(a, b2, c22); c23 = TO.FusedMultiplyAdd(a, b3, c23);
            a = TO.Load(x3 + i);
            c30 = TO.FusedMultiplyAdd(a, b0, c30); c31 = TO.FusedMultiplyAdd(a, b1, c31);
            c32 = TO.FusedMultiplyAdd(a, b2, c32); c33 = TO.FusedMultiplyAdd(a, b3, c33);
        }
        float* y1 = y + n, y2 = y1 + n, y3 = y2 + n;
        y[0] = Finish<TW, TV, TO>(c00, x0, w0, i, k); y[1] = Finish<TW, TV, TO>(c01, x0, w1, i, k);
        y[2] = Finish<TW, TV, TO>(c02, x0, w2, i, k); y[3] = Finish<TW, TV, TO>(c03, x0, w3, i, k);
        y1[0] = Finish<TW, TV, TO>(c10, x1, w0, i, k); y1[1] = Finish<TW, TV, TO>(c11, x1, w1, i, k);
        y1[2] = Finish<TW, TV, TO>(c12, x1, w2, i, k); y1[3] = Finish<TW, TV, TO>(c13, x1, w3, i, k);
        y2[0] = Finish<TW, TV, TO>(c20, x2, w0, i, k); y2[1] = Finish<TW, TV, TO>(c21, x2, w1, i, k);
        y2[2] = Finish<TW, TV, TO>(c22, x2, w2, i, k); y2[3] = Finish<TW, TV, TO>(c23, x2, w3, i, k);
        y3[0] = Finish<TW, TV, TO>(c30, x3, w0, i, k); y3[1] = Finish<TW, TV, TO>(c31, x3, w1, i, k);
        y3[2] = Finish<TW, TV, TO>(c32, x3, w2, i, k); y3[3] = Finish<TW, TV, TO>(c33, x3, w3, i, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1<TW, TV, TO>(float* x0, int k, byte* w0, float* y, int n) where TW : struct, IWeightWidener where TV : struct where TO : struct, IVectorWidth<TV>
    {
        float* x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        TV c0 = default, c1 = default, c2 = default, c3 = default;
        int kv = k & ~(TO.Count - 1), i = 0;
        for (; i < kv; i += TO.Count)
        {
            var b = TO.LoadWeights<TW>(w0, i);
            c0 = TO.FusedMultiplyAdd(TO.Load(x0 + i), b, c0);
            c1 = TO.FusedMultiplyAdd(TO.Load(x1 + i), b, c1);
            c2 = TO.FusedMultiplyAdd(TO.Load(x2 + i), b, c2);
            c3 = TO.FusedMultiplyAdd(TO.Load(x3 + i), b, c3);
        }
        y[0] = Finish<TW, TV, TO>(c0, x0, w0, i, k);
        y[n] = Finish<TW, TV, TO>(c1, x1, w0, i, k);
        y[2 * n] = Finish<TW, TV, TO>(c2, x2, w0, i, k);
        y[3 * n] = Finish<TW, TV, TO>(c3, x3, w0, i, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x8<TW, TV, TO>(float* x, int k, byte* w0, long ws, float* y) where TW : struct, IWeightWidener where TV : struct where TO : struct, IVectorWidth<TV>
    {
        byte* w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws, w4 = w3 + ws, w5 = w4 + ws, w6 = w5 + ws, w7 = w6 + ws;
        TV c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        int kv = k & ~(TO.Count - 1), i = 0;
        // The next 8 rows, prefetched in address order as fast as these 8 are consumed (StreamPrefetch says why).
        byte* pf = w0 + 8 * ws;
        int pfStep = 8 * TO.Count * TW.ElementSize;
        for (; i < kv; i += TO.Count)
        {
            StreamPrefetch.Lines(pf, pfStep);
            pf += pfStep;
            var a = TO.Load(x + i);
            c0 = TO.FusedMultiplyAdd(a, TO.LoadWeights<TW>(w0, i), c0);
            c1 = TO.FusedMultiplyAdd(a, TO.LoadWeights<TW>(w1, i), c1);
            c2 = TO.FusedMultiplyAdd(a, TO.LoadWeights<TW>(w2, i), c2);
            c3 = TO.FusedMultiplyAdd(a, TO.LoadWeights<TW>(w3, i), c3);
            c4 = TO.FusedMultiplyAdd(a, TO.LoadWeights<TW>(w4, i), c4);
            c5 = TO.FusedMultiplyAdd(a, TO.LoadWeights<TW>(w5, i), c5);
            c6 = TO.FusedMultiplyAdd(a, TO.LoadWeights<TW>(w6, i), c6);
            c7 = TO.FusedMultiplyAdd(a, TO.LoadWeights<TW>(w7, i), c7);
        }
        y[0] = Finish<TW, TV, TO>(c0, x, w0, i, k); y[1] = Finish<TW, TV, TO>(c1, x, w1, i, k);
        y[2] = Finish<TW, TV, TO>(c2, x, w2, i, k); y[3] = Finish<TW, TV, TO>(c3, x, w3, i, k);
        y[4] = Finish<TW, TV, TO>(c4, x, w4, i, k); y[5] = Finish<TW, TV, TO>(c5, x, w5, i, k);
        y[6] = Finish<TW, TV, TO>(c6, x, w6, i, k); y[7] = Finish<TW, TV, TO>(c7, x, w7, i, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x4<TW, TV, TO>(float* x, int k, byte* w0, long ws, float* y) where TW : struct, IWeightWidener where TV : struct where TO : struct, IVectorWidth<TV>
    {
        byte* w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws;
        TV c0 = default, c1 = default, c2 = default, c3 = default;
        int kv = k & ~(TO.Count - 1), i = 0;
        for (; i < kv; i += TO.Count)
        {
            var a = TO.Load(x + i);
            c0 = TO.FusedMultiplyAdd(a, TO.LoadWeights<TW>(w0, i), c0);
            c1 = TO.FusedMultiplyAdd(a, TO.LoadWeights<TW>(w1, i), c1);
            c2 = TO.FusedMultiplyAdd(a, TO.LoadWeights<TW>(w2, i), c2);
            c3 = TO.FusedMultiplyAdd(a, TO.LoadWeights<TW>(w3, i), c3);
        }
        y[0] = Finish<TW, TV, TO>(c0, x, w0, i, k);
        y[1] = Finish<TW, TV, TO>(c1, x, w1, i, k);
        y[2] = Finish<TW, TV, TO>(c2, x, w2, i, k);
        y[3] = Finish<TW, TV, TO>(c3, x, w3, i, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Tile1x1<TW, TV, TO>(float* x, int k, byte* w) where TW : struct, IWeightWidener where TV : struct where TO : struct, IVectorWidth<TV>
    {
        TV c = default;
        int kv = k & ~(TO.Count - 1), i = 0;
        for (; i < kv; i += TO.Count) c = TO.FusedMultiplyAdd(TO.Load(x + i), TO.LoadWeights<TW>(w, i), c);
        return Finish<TW, TV, TO>(c, x, w, i, k);
    }
}

/// <summary>
/// The vector width of the GEMM tiles (<see cref="CpuGemm"/>): the few operations they use, for one vector type.
/// Implemented by <see cref="Width512"/> (AVX-512) and <see cref="Width256"/> (AVX2); every member is a direct call to
/// the corresponding <c>Vector512</c>/<c>Vector256</c> operation, inlined.
/// </summary>
/// <typeparam name="TV">The vector of floats.</typeparam>
internal unsafe interface IVectorWidth<TV> where TV : struct
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }

    /// <summary>Loads <see cref="Count"/> floats at <paramref name="p"/>.</summary>
    static abstract TV Load(float* p);

    /// <summary>Elements [i, i + <see cref="Count"/>) of a weight row, widened by <typeparamref name="TW"/>.</summary>
    static abstract TV LoadWeights<TW>(byte* row, int i) where TW : struct, IWeightWidener;

    /// <summary>a · b + c, fused.</summary>
    static abstract TV FusedMultiplyAdd(TV a, TV b, TV c);

    /// <summary>The sum of the lanes (a fixed reduction tree).</summary>
    static abstract float Sum(TV v);
}

/// <summary>The AVX-512 width: <see cref="Vector512{T}"/> of 16 floats.</summary>
internal readonly unsafe struct Width512 : IVectorWidth<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(float* p) => Vector512.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadWeights<TW>(byte* row, int i) where TW : struct, IWeightWidener => TW.Load16(row, i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> FusedMultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> v) => Vector512.Sum(v);
}

/// <summary>The AVX2 width: <see cref="Vector256{T}"/> of 8 floats (machines without AVX-512, where Vector512 is emulated).</summary>
internal readonly unsafe struct Width256 : IVectorWidth<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(float* p) => Vector256.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadWeights<TW>(byte* row, int i) where TW : struct, IWeightWidener => TW.Load8(row, i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FusedMultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> v) => Vector256.Sum(v);
}
