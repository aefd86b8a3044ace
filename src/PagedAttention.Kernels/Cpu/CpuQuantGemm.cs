using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// y[r, o] = dot(x[r, :], W[o, :]) for <see cref="DType.Int8"/> and <see cref="DType.Int4"/> weights: each row of x is
/// quantized to int8 (symmetric, one scale per row) on the calling thread, the products are integer dot products
/// (exact), and only the scales are applied in float. Split over the pool by output features like <see cref="CpuGemm"/>.
/// </summary>
/// <remarks>
/// <para>Int8 weights: the int8·int8 products are summed in int32 (<c>vpmovsxbw</c> + <c>vpmaddwd</c>; exact, no
/// saturation), and <c>y = ((float)sum * wScale[o]) * xScale[r]</c>. The integer sum is the same whatever the vector
/// width, so AVX-512, AVX2 and the scalar fallback give the same bits.</para>
/// <para>Int4 weights, blocks of 64 columns with a scale per 32: the unsigned nibbles (q + 8) times the int8 activations
/// (one scale per 64 columns; <c>vpmaddubsw</c> + <c>vpmaddwd</c>, no saturation: 2 · 15 · 127 &lt; 2^15) give 16 int32
/// lanes per block, lane L holding columns 4L..4L+3; lanes 0 and 8 start at -8 · (sum of their half's activations),
/// which removes the +8 offset exactly. Each lane is converted to float and fused-multiply-added with
/// (weight scale of its half · activation scale), lanes 0–7 the first half's, 8–15 the second's, into a 16-lane float
/// accumulator, block after block; the 16 lanes are then reduced by a fixed tree (i + 8, i + 4, then (0 + 2) + (1 + 3)).
/// AVX2 keeps the same 16 lanes in two halves, so it gives the same bits too.</para>
/// <para>.NET 10 exposes no 512-bit <c>vpdpbusd</c> (there is no <c>Avx512Vnni</c> class, only the VEX 256-bit
/// <c>AvxVnni</c>, which the dev VM's guest reports on some hosts only and which does per instruction what the 512-bit
/// pair does per two), so the multiply-adds use the AVX-512BW / AVX2 pair above.
/// Every row's result depends only on that row: alone or in a batch, on any thread count, the bits are the same.</para>
/// </remarks>
internal static unsafe class CpuQuantGemm
{
    private const int G = WeightMatrix.QuantGroup;
    private const int SubChunk = 64;
    private const long InlineWork = 1L << 15;

    /// <summary>Ints of offset correction per activation group: lane 0 and lane 8 carry the two halves' corrections, the rest 0.</summary>
    internal const int CorrLanes = 16;

    /// <summary>
    /// The int8-weight path's activations are quantized to [-8191, 8191] (14 bits) and stored as int16: vpmaddwd takes
    /// int16 anyway, and 8-bit activations cost the tiny default model ~1 % top-1 agreement. |w·x| ≤ 127 · 8191 and an
    /// AVX2 lane sums (padded columns) / 8 products, so one int32 lane is exact up to 16,384 columns; longer rows use
    /// [-2047, 2047] (up to 65,536 columns, the most <see cref="QuantizedMatrix"/> accepts for Int8). Lanes are summed in int64.
    /// </summary>
    internal static int Act16Max(int paddedCols) => paddedCols <= 16384 ? 8191 : 2047;

    [ThreadStatic] private static byte* t_scratch;
    [ThreadStatic] private static long t_scratchBytes;

    private struct Job
    {
        public byte* W;
        public float* WScale;
        public float* Y;
        public byte* XQ;
        public float* XScale;
        public int* XCorr;
        public long XStride;
        public long WStride;
        public int Rows;
        public int Kp;
        public int Groups;
        public int N;
        public int Chunk;
    }

    /// <summary>
    /// Tests only: 0 (default) picks the widest supported path; 1 AVX-512BW, 2 AVX2, 3 scalar (the caller must know the
    /// CPU has the instructions). Lets one process check that all paths give the same bits.
    /// </summary>
    internal static int ForcedPath;

    /// <summary>Which instruction set the quantized kernels use on this machine.</summary>
    public static string Path => Avx512BW.IsSupported ? "AVX-512BW" : Avx2.IsSupported && Fma.IsSupported ? "AVX2" : "scalar";

    /// <summary>Runs the product. Pointers cover rows x Cols (x), rows x Rows (y).</summary>
    public static void MatMul(float* x, int rows, in WeightMatrix w, float* y, CpuWorkerPool pool)
    {
        if (rows <= 0) return;
        bool int8 = w.DType == DType.Int8;
        int k = w.Cols, kp = w.PaddedCols, groups = kp / G, n = w.Rows;
        long xStride = int8 ? kp * 2L : kp;
        long qBytes = ((rows * xStride) + 63) & ~63L;
        long sBytes = ((rows * (int8 ? 1L : groups) * 4L) + 63) & ~63L;
        long cBytes = int8 ? 0 : rows * (long)groups * CorrLanes * 4;
        byte* buf = Scratch(qBytes + sBytes + cBytes);
        var job = new Job
        {
            W = (byte*)w.Data, WScale = (float*)w.Scales, Y = y, XQ = buf, XScale = (float*)(buf + qBytes),
            XCorr = int8 ? null : (int*)(buf + qBytes + sBytes), XStride = xStride, WStride = w.RowBytes,
            Rows = rows, Kp = kp, Groups = groups, N = n, Chunk = n,
        };
        for (int r = 0; r < rows; r++)
        {
            byte* q = buf + r * xStride;
            if (int8) job.XScale[r] = QuantizeRow16(x + (long)r * k, k, kp, (short*)q);
            else QuantizeRowGroups8(x + (long)r * k, k, kp, (sbyte*)q, job.XScale + (long)r * groups, job.XCorr + (long)r * groups * CorrLanes);
        }
        int tasks = 1;
        if ((long)rows * n * kp >= InlineWork && pool.ThreadCount > 1)
        {
            int target = pool.ThreadCount * 4;
            int chunk = (n + target - 1) / target;
            chunk = Math.Max(16, (chunk + 7) & ~7);
            job.Chunk = chunk;
            tasks = (n + chunk - 1) / chunk;
        }
        delegate*<void*, int, void> body;
        int path = ForcedPath;
        if (path == 0) path = Avx512BW.IsSupported ? 1 : Avx2.IsSupported && Fma.IsSupported ? 2 : 3;
        if (path == 1)
            body = int8 ? &Body8<Vector512<int>, Vector512<short>, Vector512<float>, Vector512<byte>, QWidth512>
                        : &Body4<Vector512<int>, Vector512<short>, Vector512<float>, Vector512<byte>, QWidth512>;
        else if (path == 2)
            body = int8 ? &Body8<Vector256<int>, Vector256<short>, Float16Lanes256, Byte64Lanes256, QWidth256>
                        : &Body4<Vector256<int>, Vector256<short>, Float16Lanes256, Byte64Lanes256, QWidth256>;
        else
            body = int8 ? &BodyScalar8 : &BodyScalar4;
        pool.Run(body, &job, tasks);
    }

    private static byte* Scratch(long bytes)
    {
        // One buffer per calling thread, grown when a larger batch comes; never freed (a thread's lifetime).
        if (t_scratchBytes < bytes)
        {
            if (t_scratch != null) NativeMemory.AlignedFree(t_scratch);
            t_scratch = null;
            t_scratchBytes = 0;
            long size = Math.Max(bytes, 1L << 16);
            t_scratch = (byte*)NativeMemory.AlignedAlloc((nuint)size, 64);
            t_scratchBytes = size;
        }
        return t_scratch;
    }

    /// <summary>
    /// The scale of a row of activations: max|x| / 127, NaN when the row holds a non-finite value (so the output is NaN,
    /// as the float path's would be), 0 for an all-zero row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float RowScale(float* x, int k, float qmax, out float inv)
    {
        float amax = 0, bad = 0;
        int i = 0;
        if (Vector512.IsHardwareAccelerated && k >= 16)
        {
            // v - v is 0 for finite values and NaN for NaN and infinities; their sum flags a non-finite row.
            Vector512<float> m = Vector512<float>.Zero, z = Vector512<float>.Zero;
            for (; i + 16 <= k; i += 16)
            {
                var v = Vector512.Load(x + i);
                m = Vector512.Max(m, Vector512.Abs(v));
                z += v - v;
            }
            var m8 = Vector256.Max(m.GetLower(), m.GetUpper());
            for (int l = 0; l < 8; l++) amax = MathF.Max(amax, m8.GetElement(l));
            bad = Vector512.Sum(z);
        }
        for (; i < k; i++)
        {
            amax = MathF.Max(amax, MathF.Abs(x[i]));
            bad += x[i] - x[i];
        }
        if (!float.IsFinite(amax) || !float.IsFinite(bad)) { inv = 0; return float.NaN; }
        if (amax == 0) { inv = 0; return 0; }
        inv = qmax / amax;
        return amax / qmax;
    }

    /// <summary>Quantizes one row to int8 values stored as int16 (the int8-weight path); pads to <paramref name="kp"/> with zeros.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float QuantizeRow16(float* x, int k, int kp, short* q)
    {
        int qmax = Act16Max(kp);
        float scale = RowScale(x, k, qmax, out float inv);
        int i = 0;
        if (Avx512F.IsSupported)
        {
            var vi = Vector512.Create(inv);
            for (; i + 16 <= k; i += 16)
            {
                var r = Vector512.ConvertToInt32(Vector512.Round(Vector512.Load(x + i) * vi));
                Avx512F.ConvertToVector256Int16(Vector512.Clamp(r, Vector512.Create(-qmax), Vector512.Create(qmax))).Store(q + i);
            }
        }
        for (; i < k; i++) q[i] = (short)QuantizeOne(x[i], inv, qmax);
        for (; i < kp; i++) q[i] = 0;
        return scale;
    }

    /// <summary>
    /// Quantizes one row to int8 per group of 64 columns (the int4-weight path), one scale per group as llama.cpp's Q8_0
    /// activations have; pads to <paramref name="kp"/> with zeros. <paramref name="corr"/> holds 16 ints per group (the
    /// 16 lanes the kernel adds): lane 0 = -8 · (sum of the group's columns 0–31), lane 8 = -8 · (sum of columns 32–63), the others 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void QuantizeRowGroups8(float* x, int k, int kp, sbyte* q, float* scales, int* corr)
    {
        int full = k / G;
        for (int g = 0; g < full; g++)
        {
            float* xg = x + g * G;
            sbyte* qg = q + g * G;
            scales[g] = RowScale(xg, G, 127, out float inv);
            if (Avx512F.IsSupported)
            {
                var vi = Vector512.Create(inv);
                var sum0 = Vector512<int>.Zero;
                var sum1 = Vector512<int>.Zero;
                for (int i = 0; i < G; i += 16)
                {
                    var r = Vector512.Clamp(Vector512.ConvertToInt32(Vector512.Round(Vector512.Load(xg + i) * vi)), Vector512.Create(-127), Vector512.Create(127));
                    if (i < G / 2) sum0 += r; else sum1 += r;
                    Avx512F.ConvertToVector128SByte(r).Store(qg + i);
                }
                SetCorr(corr + g * CorrLanes, Vector512.Sum(sum0), Vector512.Sum(sum1));
            }
            else
            {
                for (int i = 0; i < G; i++) qg[i] = (sbyte)QuantizeOne(xg[i], inv, 127);
                SetCorr(corr + g * CorrLanes, qg);
            }
        }
        if (full * G < kp)
        {
            // The last, partial group: its columns past k are zero.
            int g = full, n = k - g * G;
            float* xg = x + g * G;
            sbyte* qg = q + g * G;
            scales[g] = RowScale(xg, n, 127, out float inv);
            for (int i = 0; i < n; i++) qg[i] = (sbyte)QuantizeOne(xg[i], inv, 127);
            for (int i = n; i < G; i++) qg[i] = 0;
            SetCorr(corr + g * CorrLanes, qg);
        }
    }

    private static void SetCorr(int* c, sbyte* qg)
    {
        int s0 = 0, s1 = 0;
        for (int i = 0; i < G / 2; i++) { s0 += qg[i]; s1 += qg[i + G / 2]; }
        SetCorr(c, s0, s1);
    }

    private static void SetCorr(int* c, int sum0, int sum1)
    {
        for (int l = 0; l < CorrLanes; l++) c[l] = 0;
        c[0] = -8 * sum0;
        c[8] = -8 * sum1;
    }

    /// <summary>round(x · inv) to nearest, ties to even, clamped to [-127, 127]; 0 for NaN (the row's scale is then NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int QuantizeOne(float x, float inv, int qmax)
    {
        float v = MathF.Round(x * inv);
        return float.IsNaN(v) ? 0 : (int)Math.Clamp(v, -qmax, qmax);
    }

    // ---------------------------------------------------------------- int8 weights

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Body8<TI, TW, TF, TU, TO>(void* context, int task)
        where TI : struct where TW : struct where TF : struct where TU : struct where TO : struct, IQuantWidth<TI, TW, TF, TU>
    {
        ref Job j = ref *(Job*)context;
        int o0 = task * j.Chunk, o1 = Math.Min(o0 + j.Chunk, j.N);
        int kp = j.Kp, n = j.N, rows = j.Rows;
        long ws = j.WStride;
        for (int oc = o0; oc < o1; oc += SubChunk)
        {
            int oe = Math.Min(oc + SubChunk, o1);
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                short* xr = (short*)(j.XQ + r * j.XStride);
                int o = oc;
                for (; o + 4 <= oe; o += 4)
                    Tile4x4I8<TI, TW, TF, TU, TO>(xr, j.XStride / 2, kp, j.W + o * ws, ws, j.WScale + o, j.XScale + r, j.Y + (long)r * n + o, n);
                for (; o < oe; o++)
                    for (int rr = r; rr < r + 4; rr++)
                        j.Y[(long)rr * n + o] = Finish8(Tile1x1I8<TI, TW, TF, TU, TO>((short*)(j.XQ + rr * j.XStride), kp, (sbyte*)(j.W + o * ws)), j.WScale[o], j.XScale[rr]);
            }
            for (; r < rows; r++)
            {
                short* xr = (short*)(j.XQ + r * j.XStride);
                float* yr = j.Y + (long)r * n;
                int o = oc;
                if (ws < CpuGemm.RowAtATimeBelowBytes)
                {
                    // Short rows: one sequential stream (as in CpuGemm.Body); a 1x1 tile gives the same bits.
                    for (; o < oe; o++) yr[o] = Finish8(Tile1x1I8<TI, TW, TF, TU, TO>(xr, kp, (sbyte*)(j.W + o * ws)), j.WScale[o], j.XScale[r]);
                    continue;
                }

                for (; o + 8 <= oe; o += 8) Tile1x8I8<TI, TW, TF, TU, TO>(xr, kp, j.W + o * ws, ws, j.WScale + o, j.XScale[r], yr + o);
                for (; o < oe; o++) yr[o] = Finish8(Tile1x1I8<TI, TW, TF, TU, TO>(xr, kp, (sbyte*)(j.W + o * ws)), j.WScale[o], j.XScale[r]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Finish8(long sum, float wScale, float xScale) => ((float)sum * wScale) * xScale;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long Tile1x1I8<TI, TW, TF, TU, TO>(short* x, int kp, sbyte* w)
        where TI : struct where TW : struct where TF : struct where TU : struct where TO : struct, IQuantWidth<TI, TW, TF, TU>
    {
        TI c = default;
        for (int i = 0; i < kp; i += TO.Step8) c = TO.MulAdd8(c, TO.LoadW8(w + i), x + i);
        return TO.SumI(c);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x8I8<TI, TW, TF, TU, TO>(short* x, int kp, byte* w, long ws, float* wScale, float xScale, float* y)
        where TI : struct where TW : struct where TF : struct where TU : struct where TO : struct, IQuantWidth<TI, TW, TF, TU>
    {
        sbyte* w0 = (sbyte*)w, w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws, w4 = w3 + ws, w5 = w4 + ws, w6 = w5 + ws, w7 = w6 + ws;
        TI c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        byte* pf = w + 8 * ws; // the next tile's rows, in address order (StreamPrefetch)
        for (int i = 0; i < kp; i += TO.Step8)
        {
            StreamPrefetch.Lines(pf, 8 * TO.Step8);
            pf += 8 * TO.Step8;
            short* xi = x + i;
            c0 = TO.MulAdd8(c0, TO.LoadW8(w0 + i), xi);
            c1 = TO.MulAdd8(c1, TO.LoadW8(w1 + i), xi);
            c2 = TO.MulAdd8(c2, TO.LoadW8(w2 + i), xi);
            c3 = TO.MulAdd8(c3, TO.LoadW8(w3 + i), xi);
            c4 = TO.MulAdd8(c4, TO.LoadW8(w4 + i), xi);
            c5 = TO.MulAdd8(c5, TO.LoadW8(w5 + i), xi);
            c6 = TO.MulAdd8(c6, TO.LoadW8(w6 + i), xi);
            c7 = TO.MulAdd8(c7, TO.LoadW8(w7 + i), xi);
        }
        y[0] = Finish8(TO.SumI(c0), wScale[0], xScale); y[1] = Finish8(TO.SumI(c1), wScale[1], xScale);
        y[2] = Finish8(TO.SumI(c2), wScale[2], xScale); y[3] = Finish8(TO.SumI(c3), wScale[3], xScale);
        y[4] = Finish8(TO.SumI(c4), wScale[4], xScale); y[5] = Finish8(TO.SumI(c5), wScale[5], xScale);
        y[6] = Finish8(TO.SumI(c6), wScale[6], xScale); y[7] = Finish8(TO.SumI(c7), wScale[7], xScale);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4I8<TI, TW, TF, TU, TO>(short* x0, long xs, int kp, byte* w, long ws, float* wScale, float* xScale, float* y, int n)
        where TI : struct where TW : struct where TF : struct where TU : struct where TO : struct, IQuantWidth<TI, TW, TF, TU>
    {
        short* x1 = x0 + xs, x2 = x1 + xs, x3 = x2 + xs;
        sbyte* w0 = (sbyte*)w, w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws;
        TI c00 = default, c01 = default, c02 = default, c03 = default;
        TI c10 = default, c11 = default, c12 = default, c13 = default;
        TI c20 = default, c21 = default, c22 = default, c23 = default;
        TI c30 = default, c31 = default, c32 = default, c33 = default;
        byte* pf = w + 4 * ws; // the next 4 weight rows, in address order (StreamPrefetch)
        for (int i = 0; i < kp; i += TO.Step8)
        {
            StreamPrefetch.Lines(pf, 4 * TO.Step8);
            pf += 4 * TO.Step8;
            var b0 = TO.LoadW8(w0 + i);
            var b1 = TO.LoadW8(w1 + i);
            var b2 = TO.LoadW8(w2 + i);
            var b3 = TO.LoadW8(w3 + i);
            short* a = x0 + i;
            c00 = TO.MulAdd8(c00, b0, a); c01 = TO.MulAdd8(c01, b1, a); c02 = TO.MulAdd8(c02, b2, a); c03 = TO.MulAdd8(c03, b3, a);
            a = x1 + i;
            c10 = TO.MulAdd8(c10, b0, a); c11 = TO.MulAdd8(c11, b1, a); c12 = TO.MulAdd8(c12, b2, a); c13 = TO.MulAdd8(c13, b3, a);
            a = x2 + i;
            c20 = TO.MulAdd8(c20, b0, a); c21 = TO.MulAdd8(c21, b1, a); c22 = TO.MulAdd8(c22, b2, a); c23 = TO.MulAdd8(c23, b3, a);
            a = x3 + i;
            c30 = TO.MulAdd8(c30, b0, a); c31 = TO.MulAdd8(c31, b1, a); c32 = TO.MulAdd8(c32, b2, a); c33 = TO.MulAdd8(c33, b3, a);
        }
        float* y1 = y + n, y2 = y1 + n, y3 = y2 + n;
        y[0] = Finish8(TO.SumI(c00), wScale[0], xScale[0]); y[1] = Finish8(TO.SumI(c01), wScale[1], xScale[0]);
        y[2] = Finish8(TO.SumI(c02), wScale[2], xScale[0]); y[3] = Finish8(TO.SumI(c03), wScale[3], xScale[0]);
        y1[0] = Finish8(TO.SumI(c10), wScale[0], xScale[1]); y1[1] = Finish8(TO.SumI(c11), wScale[1], xScale[1]);
        y1[2] = Finish8(TO.SumI(c12), wScale[2], xScale[1]); y1[3] = Finish8(TO.SumI(c13), wScale[3], xScale[1]);
        y2[0] = Finish8(TO.SumI(c20), wScale[0], xScale[2]); y2[1] = Finish8(TO.SumI(c21), wScale[1], xScale[2]);
        y2[2] = Finish8(TO.SumI(c22), wScale[2], xScale[2]); y2[3] = Finish8(TO.SumI(c23), wScale[3], xScale[2]);
        y3[0] = Finish8(TO.SumI(c30), wScale[0], xScale[3]); y3[1] = Finish8(TO.SumI(c31), wScale[1], xScale[3]);
        y3[2] = Finish8(TO.SumI(c32), wScale[2], xScale[3]); y3[3] = Finish8(TO.SumI(c33), wScale[3], xScale[3]);
    }

    // ---------------------------------------------------------------- int4 weights

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Body4<TI, TW, TF, TU, TO>(void* context, int task)
        where TI : struct where TW : struct where TF : struct where TU : struct where TO : struct, IQuantWidth<TI, TW, TF, TU>
    {
        ref Job j = ref *(Job*)context;
        int o0 = task * j.Chunk, o1 = Math.Min(o0 + j.Chunk, j.N);
        int n = j.N, rows = j.Rows, groups = j.Groups;
        long ws = j.WStride;
        for (int oc = o0; oc < o1; oc += SubChunk)
        {
            int oe = Math.Min(oc + SubChunk, o1);
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                int o = oc;
                for (; o + 4 <= oe; o += 4)
                    Tile4x4I4<TI, TW, TF, TU, TO>(ref j, r, o);
                for (; o < oe; o++)
                    for (int rr = r; rr < r + 4; rr++)
                        j.Y[(long)rr * n + o] = Tile1x1I4<TI, TW, TF, TU, TO>((sbyte*)(j.XQ + rr * j.XStride), j.XCorr + (long)rr * groups * CorrLanes, j.XScale + (long)rr * groups, groups, j.W + o * ws, j.WScale + (long)o * groups * 2);
            }
            for (; r < rows; r++)
            {
                sbyte* xr = (sbyte*)(j.XQ + r * j.XStride);
                int* cr = j.XCorr + (long)r * groups * CorrLanes;
                float* sr = j.XScale + (long)r * groups;
                float* yr = j.Y + (long)r * n;
                int o = oc;
                if (ws < CpuGemm.RowAtATimeBelowBytes)
                {
                    // Short rows: one sequential stream (as in CpuGemm.Body); a 1x1 tile gives the same bits.
                    for (; o < oe; o++) yr[o] = Tile1x1I4<TI, TW, TF, TU, TO>(xr, cr, sr, groups, j.W + o * ws, j.WScale + (long)o * groups * 2);
                    continue;
                }

                for (; o + 8 <= oe; o += 8) Tile1x8I4<TI, TW, TF, TU, TO>(xr, cr, sr, groups, j.W + o * ws, ws, j.WScale + (long)o * groups * 2, yr + o);
                for (; o < oe; o++) yr[o] = Tile1x1I4<TI, TW, TF, TU, TO>(xr, cr, sr, groups, j.W + o * ws, j.WScale + (long)o * groups * 2);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Tile1x1I4<TI, TW, TF, TU, TO>(sbyte* x, int* corr, float* xs, int groups, byte* w, float* s)
        where TI : struct where TW : struct where TF : struct where TU : struct where TO : struct, IQuantWidth<TI, TW, TF, TU>
    {
        TF c = default;
        for (int g = 0; g < groups; g++) c = TO.FmaGroup(c, TO.Unpack4(w + g * (G / 2)), x + g * G, corr + g * CorrLanes, TO.Mul(TO.Spread2(s + 2 * g), TO.Broadcast(xs[g])));
        return TO.SumF(c);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x8I4<TI, TW, TF, TU, TO>(sbyte* x, int* corr, float* xs, int groups, byte* w0, long ws, float* s0, float* y)
        where TI : struct where TW : struct where TF : struct where TU : struct where TO : struct, IQuantWidth<TI, TW, TF, TU>
    {
        byte* w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws, w4 = w3 + ws, w5 = w4 + ws, w6 = w5 + ws, w7 = w6 + ws;
        int sg = 2 * groups;
        float* s1 = s0 + sg, s2 = s1 + sg, s3 = s2 + sg, s4 = s3 + sg, s5 = s4 + sg, s6 = s5 + sg, s7 = s6 + sg;
        TF c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        // The next tile's packed rows and scale rows, each in address order (StreamPrefetch).
        byte* pf = w0 + 8 * ws, pfs = (byte*)(s0 + 8 * sg);
        for (int g = 0; g < groups; g++)
        {
            StreamPrefetch.Lines(pf, 8 * (G / 2));
            pf += 8 * (G / 2);
            StreamPrefetch.Lines(pfs, 64); // 8 rows x 2 scales per group: 64 bytes
            pfs += 64;
            sbyte* xg = x + g * G;
            int* cg = corr + g * CorrLanes;
            var q = TO.Broadcast(xs[g]);
            int wo = g * (G / 2), so = 2 * g;
            c0 = TO.FmaGroup(c0, TO.Unpack4(w0 + wo), xg, cg, TO.Mul(TO.Spread2(s0 + so), q));
            c1 = TO.FmaGroup(c1, TO.Unpack4(w1 + wo), xg, cg, TO.Mul(TO.Spread2(s1 + so), q));
            c2 = TO.FmaGroup(c2, TO.Unpack4(w2 + wo), xg, cg, TO.Mul(TO.Spread2(s2 + so), q));
            c3 = TO.FmaGroup(c3, TO.Unpack4(w3 + wo), xg, cg, TO.Mul(TO.Spread2(s3 + so), q));
            c4 = TO.FmaGroup(c4, TO.Unpack4(w4 + wo), xg, cg, TO.Mul(TO.Spread2(s4 + so), q));
            c5 = TO.FmaGroup(c5, TO.Unpack4(w5 + wo), xg, cg, TO.Mul(TO.Spread2(s5 + so), q));
            c6 = TO.FmaGroup(c6, TO.Unpack4(w6 + wo), xg, cg, TO.Mul(TO.Spread2(s6 + so), q));
            c7 = TO.FmaGroup(c7, TO.Unpack4(w7 + wo), xg, cg, TO.Mul(TO.Spread2(s7 + so), q));
        }
        y[0] = TO.SumF(c0); y[1] = TO.SumF(c1); y[2] = TO.SumF(c2); y[3] = TO.SumF(c3);
        y[4] = TO.SumF(c4); y[5] = TO.SumF(c5); y[6] = TO.SumF(c6); y[7] = TO.SumF(c7);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4I4<TI, TW, TF, TU, TO>(ref Job j, int r, int o)
        where TI : struct where TW : struct where TF : struct where TU : struct where TO : struct, IQuantWidth<TI, TW, TF, TU>
    {
        int groups = j.Groups, n = j.N;
        long ws = j.WStride, xs = j.XStride;
        byte* w0 = j.W + o * ws, w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws;
        int sg = 2 * groups;
        float* s0 = j.WScale + (long)o * sg, s1 = s0 + sg, s2 = s1 + sg, s3 = s2 + sg;
        sbyte* x0 = (sbyte*)(j.XQ + r * xs), x1 = x0 + xs, x2 = x1 + xs, x3 = x2 + xs;
        int cs = groups * CorrLanes;
        int* k0 = j.XCorr + (long)r * cs, k1 = k0 + cs, k2 = k1 + cs, k3 = k2 + cs;
        float* q0 = j.XScale + (long)r * groups, q1 = q0 + groups, q2 = q1 + groups, q3 = q2 + groups;
        TF c00 = default, c01 = default, c02 = default, c03 = default;
        TF c10 = default, c11 = default, c12 = default, c13 = default;
        TF c20 = default, c21 = default, c22 = default, c23 = default;
        TF c30 = default, c31 = default, c32 = default, c33 = default;
        byte* pf = w0 + 4 * ws, pfs = (byte*)(s0 + 4 * sg); // the next 4 rows and their scales (StreamPrefetch)
        for (int g = 0; g < groups; g++)
        {
            StreamPrefetch.Lines(pf, 4 * (G / 2));
            pf += 4 * (G / 2);
            if ((g & 1) == 0)
            {
                StreamPrefetch.Lines(pfs, 64); // 4 rows x 2 scales per group: 64 bytes every other group
                pfs += 64;
            }

            int wo = g * (G / 2), xo = g * G;
            var b0 = TO.Unpack4(w0 + wo);
            var b1 = TO.Unpack4(w1 + wo);
            var b2 = TO.Unpack4(w2 + wo);
            var b3 = TO.Unpack4(w3 + wo);
            int so = 2 * g, co = g * CorrLanes;
            TF f0 = TO.Spread2(s0 + so), f1 = TO.Spread2(s1 + so), f2 = TO.Spread2(s2 + so), f3 = TO.Spread2(s3 + so);
            sbyte* a = x0 + xo; int* c = k0 + co; TF q = TO.Broadcast(q0[g]);
            c00 = TO.FmaGroup(c00, b0, a, c, TO.Mul(f0, q)); c01 = TO.FmaGroup(c01, b1, a, c, TO.Mul(f1, q)); c02 = TO.FmaGroup(c02, b2, a, c, TO.Mul(f2, q)); c03 = TO.FmaGroup(c03, b3, a, c, TO.Mul(f3, q));
            a = x1 + xo; c = k1 + co; q = TO.Broadcast(q1[g]);
            c10 = TO.FmaGroup(c10, b0, a, c, TO.Mul(f0, q)); c11 = TO.FmaGroup(c11, b1, a, c, TO.Mul(f1, q)); c12 = TO.FmaGroup(c12, b2, a, c, TO.Mul(f2, q)); c13 = TO.FmaGroup(c13, b3, a, c, TO.Mul(f3, q));
            a = x2 + xo; c = k2 + co; q = TO.Broadcast(q2[g]);
            c20 = TO.FmaGroup(c20, b0, a, c, TO.Mul(f0, q)); c21 = TO.FmaGroup(c21, b1, a, c, TO.Mul(f1, q)); c22 = TO.FmaGroup(c22, b2, a, c, TO.Mul(f2, q)); c23 = TO.FmaGroup(c23, b3, a, c, TO.Mul(f3, q));
            a = x3 + xo; c = k3 + co; q = TO.Broadcast(q3[g]);
            c30 = TO.FmaGroup(c30, b0, a, c, TO.Mul(f0, q)); c31 = TO.FmaGroup(c31, b1, a, c, TO.Mul(f1, q)); c32 = TO.FmaGroup(c32, b2, a, c, TO.Mul(f2, q)); c33 = TO.FmaGroup(c33, b3, a, c, TO.Mul(f3, q));
        }
        float* y0 = j.Y + (long)r * n + o, y1 = y0 + n, y2 = y1 + n, y3 = y2 + n;
        y0[0] = TO.SumF(c00); y0[1] = TO.SumF(c01); y0[2] = TO.SumF(c02); y0[3] = TO.SumF(c03);
        y1[0] = TO.SumF(c10); y1[1] = TO.SumF(c11); y1[2] = TO.SumF(c12); y1[3] = TO.SumF(c13);
        y2[0] = TO.SumF(c20); y2[1] = TO.SumF(c21); y2[2] = TO.SumF(c22); y2[3] = TO.SumF(c23);
        y3[0] = TO.SumF(c30); y3[1] = TO.SumF(c31); y3[2] = TO.SumF(c32); y3[3] = TO.SumF(c33);
    }

    // ---------------------------------------------------------------- scalar fallback (no AVX2): the same arithmetic

    private static void BodyScalar8(void* context, int task)
    {
        ref Job j = ref *(Job*)context;
        int o0 = task * j.Chunk, o1 = Math.Min(o0 + j.Chunk, j.N);
        for (int r = 0; r < j.Rows; r++)
            for (int o = o0; o < o1; o++)
                j.Y[(long)r * j.N + o] = Finish8(ScalarDot8((short*)(j.XQ + r * j.XStride), (sbyte*)(j.W + o * j.WStride), j.Kp), j.WScale[o], j.XScale[r]);
    }

    private static void BodyScalar4(void* context, int task)
    {
        ref Job j = ref *(Job*)context;
        int o0 = task * j.Chunk, o1 = Math.Min(o0 + j.Chunk, j.N);
        for (int r = 0; r < j.Rows; r++)
            for (int o = o0; o < o1; o++)
                j.Y[(long)r * j.N + o] = ScalarDot4((sbyte*)(j.XQ + r * j.XStride), j.XCorr + (long)r * j.Groups * CorrLanes, j.XScale + (long)r * j.Groups, j.Groups, j.W + o * j.WStride, j.WScale + (long)o * j.Groups * 2);
    }

    /// <summary>The int8 path's integer dot product, scalar.</summary>
    internal static long ScalarDot8(short* x, sbyte* w, int kp)
    {
        long s = 0;
        for (int i = 0; i < kp; i++) s += x[i] * w[i];
        return s;
    }

    /// <summary>The int4 path's 16-lane computation, scalar (<see cref="CpuQuantGemm"/> remarks).</summary>
    internal static float ScalarDot4(sbyte* x, int* corr, float* xs, int groups, byte* w, float* s)
    {
        float* acc = stackalloc float[16];
        for (int l = 0; l < 16; l++) acc[l] = 0;
        for (int g = 0; g < groups; g++)
        {
            byte* wg = w + g * (G / 2);
            sbyte* xg = x + g * G;
            for (int l = 0; l < 16; l++)
            {
                int t = corr[g * CorrLanes + l];
                for (int b = 0; b < 4; b++)
                {
                    int col = 4 * l + b;
                    int nib = col < G / 2 ? wg[col] & 0xF : wg[col - G / 2] >> 4;
                    t += nib * xg[col];
                }
                acc[l] = MathF.FusedMultiplyAdd(t, s[2 * g + l / 8] * xs[g], acc[l]);
            }
        }
        return ReduceLanes(acc);
    }

    /// <summary>The fixed reduction of 16 lanes: i + 8, then i + 4, then (0 + 2) + (1 + 3).</summary>
    internal static float ReduceLanes(float* a)
    {
        float* b = stackalloc float[8];
        for (int i = 0; i < 8; i++) b[i] = a[i] + a[i + 8];
        float c0 = b[0] + b[4], c1 = b[1] + b[5], c2 = b[2] + b[6], c3 = b[3] + b[7];
        return (c0 + c2) + (c1 + c3);
    }
}

/// <summary>
/// The vector operations of the quantized tiles (<see cref="CpuQuantGemm"/>) for one width: <see cref="QWidth512"/>
/// (AVX-512BW) or <see cref="QWidth256"/> (AVX2). Both keep the int4 path's 16 lanes, so they give the same bits.
/// </summary>
/// <typeparam name="TI">Int32 accumulator of the int8 path.</typeparam>
/// <typeparam name="TW">int8 weights widened to int16.</typeparam>
/// <typeparam name="TF">16-lane float accumulator of the int4 path.</typeparam>
/// <typeparam name="TU">One unpacked block of 64 int4 weights (unsigned nibbles, one per byte).</typeparam>
internal unsafe interface IQuantWidth<TI, TW, TF, TU> where TI : struct where TW : struct where TF : struct where TU : struct
{
    /// <summary>int8 weights per <see cref="LoadW8"/>.</summary>
    static abstract int Step8 { get; }

    /// <summary>Loads <see cref="Step8"/> int8 weights widened to int16.</summary>
    static abstract TW LoadW8(sbyte* w);

    /// <summary>acc + pairwise products of <paramref name="w"/> and <see cref="Step8"/> int16 activations at <paramref name="x"/>.</summary>
    static abstract TI MulAdd8(TI acc, TW w, short* x);

    /// <summary>The exact integer sum of the lanes.</summary>
    static abstract long SumI(TI acc);

    /// <summary>Unpacks the 32 bytes of one int4 group into 64 nibbles (column order).</summary>
    static abstract TU Unpack4(byte* packed);

    /// <summary>
    /// acc + float(lanes of nibbles · x plus the 16 ints at <paramref name="corr"/>) · <paramref name="scale"/>, fused
    /// per lane (lanes 0–7 are columns 0–31, lanes 8–15 columns 32–63).
    /// </summary>
    static abstract TF FmaGroup(TF acc, TU w, sbyte* x, int* corr, TF scale);

    /// <summary>16 lanes: 0–7 hold <c>s[0]</c>, 8–15 hold <c>s[1]</c> (a weight row's two scales of one block).</summary>
    static abstract TF Spread2(float* s);

    /// <summary>All 16 lanes <paramref name="q"/>.</summary>
    static abstract TF Broadcast(float q);

    /// <summary>Lane-wise a · b (each lane the float product the scalar path computes).</summary>
    static abstract TF Mul(TF a, TF b);

    /// <summary>The fixed 16-lane reduction.</summary>
    static abstract float SumF(TF acc);
}

/// <summary>AVX-512BW tiles: one 512-bit vector per 32 int8 weights, one per int4 group.</summary>
internal readonly unsafe struct QWidth512 : IQuantWidth<Vector512<int>, Vector512<short>, Vector512<float>, Vector512<byte>>
{
    public static int Step8 => 32;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> LoadW8(sbyte* w) => Avx512BW.ConvertToVector512Int16(Vector256.Load(w));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> MulAdd8(Vector512<int> acc, Vector512<short> w, short* x) => acc + Avx512BW.MultiplyAddAdjacent(w, Vector512.Load(x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long SumI(Vector512<int> acc) => Vector512.Sum(Vector512.WidenLower(acc) + Vector512.WidenUpper(acc));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Unpack4(byte* packed)
    {
        // One broadcast load of the 32 bytes into both halves, then shift the upper half's words right by 4.
        var v = Avx512F.BroadcastVector256ToVector512((ulong*)packed).AsUInt16();
        var shifts = Vector512.Create(
            (ushort)0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4);
        return Avx512BW.ShiftRightLogicalVariable(v, shifts).AsByte() & Vector512.Create((byte)0x0F);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> FmaGroup(Vector512<float> acc, Vector512<byte> w, sbyte* x, int* corr, Vector512<float> scale)
    {
        var p = Avx512BW.MultiplyAddAdjacent(w, Vector512.Load(x));
        var i = Avx512BW.MultiplyAddAdjacent(p, Vector512<short>.One) + Vector512.Load(corr);
        return Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(i), scale, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Spread2(float* s)
    {
        // One 64-bit load of the pair and one vpermps (instead of two scalar broadcasts and an insert per row).
        var pair = Vector128.CreateScalarUnsafe(*(double*)s).AsSingle().ToVector256Unsafe().ToVector512Unsafe();
        return Avx512F.PermuteVar16x32(pair, Vector512.Create(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float q) => Vector512.Create(q);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumF(Vector512<float> acc)
    {
        var v8 = acc.GetLower() + acc.GetUpper();
        var v4 = v8.GetLower() + v8.GetUpper();
        return (v4.GetElement(0) + v4.GetElement(2)) + (v4.GetElement(1) + v4.GetElement(3));
    }
}

/// <summary>16 float lanes as two 256-bit halves (lanes 0–7, 8–15).</summary>
internal struct Float16Lanes256
{
    public Vector256<float> Lo;
    public Vector256<float> Hi;
}

/// <summary>64 bytes as two 256-bit halves.</summary>
internal struct Byte64Lanes256
{
    public Vector256<byte> Lo;
    public Vector256<byte> Hi;
}

/// <summary>AVX2 tiles: the same lanes as <see cref="QWidth512"/>, in 256-bit halves.</summary>
internal readonly unsafe struct QWidth256 : IQuantWidth<Vector256<int>, Vector256<short>, Float16Lanes256, Byte64Lanes256>
{
    public static int Step8 => 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> LoadW8(sbyte* w) => Avx2.ConvertToVector256Int16(Vector128.Load(w));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> MulAdd8(Vector256<int> acc, Vector256<short> w, short* x) => acc + Avx2.MultiplyAddAdjacent(w, Vector256.Load(x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long SumI(Vector256<int> acc) => Vector256.Sum(Vector256.WidenLower(acc) + Vector256.WidenUpper(acc));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Byte64Lanes256 Unpack4(byte* packed)
    {
        var v = Vector256.Load(packed);
        var mask = Vector256.Create((byte)0x0F);
        return new Byte64Lanes256 { Lo = v & mask, Hi = Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float16Lanes256 FmaGroup(Float16Lanes256 acc, Byte64Lanes256 w, sbyte* x, int* corr, Float16Lanes256 scale)
    {
        var one = Vector256<short>.One;
        var lo = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(w.Lo, Vector256.Load(x)), one) + Vector256.Load(corr);
        var hi = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(w.Hi, Vector256.Load(x + 32)), one) + Vector256.Load(corr + 8);
        return new Float16Lanes256
        {
            Lo = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(lo), scale.Lo, acc.Lo),
            Hi = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(hi), scale.Hi, acc.Hi),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float16Lanes256 Spread2(float* s) => new() { Lo = Vector256.Create(s[0]), Hi = Vector256.Create(s[1]) };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float16Lanes256 Broadcast(float q) => new() { Lo = Vector256.Create(q), Hi = Vector256.Create(q) };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float16Lanes256 Mul(Float16Lanes256 a, Float16Lanes256 b) => new() { Lo = a.Lo * b.Lo, Hi = a.Hi * b.Hi };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumF(Float16Lanes256 acc)
    {
        var v8 = acc.Lo + acc.Hi;
        var v4 = v8.GetLower() + v8.GetUpper();
        return (v4.GetElement(0) + v4.GetElement(2)) + (v4.GetElement(1) + v4.GetElement(3));
    }
}
