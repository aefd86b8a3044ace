using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// Paged causal attention: one work item per (query token, KV head), covering the query heads that share that KV
/// head (GQA). Each item walks the sequence's block table in chunks of <see cref="ChunkLen"/> positions with an online
/// softmax per head (running max and sum, accumulator rescaled once per chunk), so it needs only fixed-size stack
/// buffers whatever the context length. Each K and V row is read once for the whole group, and the group's dot
/// products are independent chains the core overlaps.
/// </summary>
/// <remarks>
/// Each head's arithmetic is the same sequence of operations as when heads were items of their own (dots in position
/// order, the chunk's max, the rescale, the exponentials and the V accumulation in position order), and depends only
/// on its own query row and the sequence's cache, never on the batch or the thread: a sequence gets bit-identical
/// output alone or among 64 others, and the same bits as before the grouping.
/// </remarks>
internal static unsafe class CpuAttention
{
    private const int ChunkLen = 64;

    // Pool tasks group this many (token, KV head) items to amortise the dispatch of tiny decode items.
    private const int ItemsPerTask = 2;

    // Query heads per KV head handled in one item; larger groups are split into items of this many heads.
    private const int MaxGroupHeads = 8;

    private struct Job
    {
        public float* Q;
        public float* O;
        public int* QueryStarts;
        public int* ContextLens;
        public int* BlockTables;
        public float* Keys;
        public float* Values;
        public int NumSeqs;
        public int NumHeads;
        public int Group;
        public int HeadDim;
        public int RowWidth;
        public int BlockSize;
        public int MaxBlocksPerSeq;
        public int HeadsPerItem;
        public int ItemsPerToken;
        public int Items;
        public float Scale;
    }

    public static void Run(
        float* q, float* output, int numHeads, int* queryStarts, int* contextLens, int numSeqs,
        int* blockTables, int maxBlocksPerSeq, PagedKvLayer layer, float scale, CpuWorkerPool pool)
    {
        int tokens = queryStarts[numSeqs] - queryStarts[0];
        var job = new Job
        {
            Q = q, O = output, QueryStarts = queryStarts, ContextLens = contextLens, BlockTables = blockTables,
            Keys = layer.Keys, Values = layer.Values, NumSeqs = numSeqs, NumHeads = numHeads,
            Group = numHeads / layer.NumKvHeads, HeadDim = layer.HeadDim, RowWidth = layer.RowWidth,
            BlockSize = layer.BlockSize, MaxBlocksPerSeq = maxBlocksPerSeq, Scale = scale,
        };
        // Items of up to MaxGroupHeads query heads of one KV head: the largest divisor of the group that fits (a group
        // of 12 becomes items of 6), so no item spans two KV heads.
        int perItem = Math.Min(job.Group, MaxGroupHeads);
        while (job.Group % perItem != 0) perItem--;
        job.HeadsPerItem = perItem;
        job.ItemsPerToken = numHeads / perItem;
        job.Items = tokens * job.ItemsPerToken;
        int tasks = (job.Items + ItemsPerTask - 1) / ItemsPerTask;
        pool.Run(&Body, &job, tasks);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Body(void* context, int task)
    {
        ref Job j = ref *(Job*)context;
        int end = Math.Min((task + 1) * ItemsPerTask, j.Items);
        for (int item = task * ItemsPerTask; item < end; item++)
        {
            int t = j.QueryStarts[0] + item / j.ItemsPerToken, h = item % j.ItemsPerToken * j.HeadsPerItem;
            // Find the sequence owning token t (few sequences per step; a linear scan beats bookkeeping).
            int s = 0;
            while (j.QueryStarts[s + 1] <= t) s++;
            int qLen = j.QueryStarts[s + 1] - j.QueryStarts[s];
            int visible = j.ContextLens[s] - qLen + (t - j.QueryStarts[s]) + 1;
            One(ref j, t, h, visible, j.BlockTables + (long)s * j.MaxBlocksPerSeq);
        }
    }

    /// <summary>Query heads [h0, h0 + HeadsPerItem) of token t, all reading KV head h0 / Group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void One(ref Job j, int t, int h0, int visible, int* table)
    {
        int hd = j.HeadDim, bs = j.BlockSize, g = j.HeadsPerItem;
        long kvOffset = (long)(h0 / j.Group) * hd;
        float* q0 = j.Q + ((long)t * j.NumHeads + h0) * hd; // the g heads' rows are consecutive
        float* o0 = j.O + ((long)t * j.NumHeads + h0) * hd;
        float* scores = stackalloc float[ChunkLen * MaxGroupHeads]; // [head][position in chunk]
        float** vRows = stackalloc float*[ChunkLen];
        float** keys = stackalloc float*[16];
        float* max = stackalloc float[MaxGroupHeads];
        float* sum = stackalloc float[MaxGroupHeads];
        float* chunkMax = stackalloc float[MaxGroupHeads];
        new Span<float>(o0, g * hd).Clear();
        for (int k = 0; k < g; k++) { max[k] = float.NegativeInfinity; sum[k] = 0; }
        for (int c = 0; c < visible; c += ChunkLen)
        {
            int len = Math.Min(ChunkLen, visible - c);
            for (int k = 0; k < g; k++) chunkMax[k] = float.NegativeInfinity;
            int p0 = 0;
            if (Avx512F.IsSupported && hd % 16 == 0)
            {
                // 16 positions at a time: the 16 dot products of a head in one vector (Dots16, the same bits as Dot).
                for (; p0 + 16 <= len; p0 += 16)
                {
                    for (int p = p0; p < p0 + 16; p++)
                    {
                        int pos = c + p;
                        long row = ((long)table[pos / bs] * bs + pos % bs) * j.RowWidth + kvOffset;
                        keys[p - p0] = j.Keys + row;
                        vRows[p] = j.Values + row;
                    }
                    for (int k = 0; k < g; k++)
                    {
                        float* sk = scores + k * ChunkLen + p0;
                        (Dots16(q0 + k * hd, keys, hd) * j.Scale).Store(sk);
                        float m = chunkMax[k];
                        for (int i = 0; i < 16; i++) m = MathF.Max(m, sk[i]);
                        chunkMax[k] = m;
                    }
                }
            }
            for (int p = p0; p < len; p++)
            {
                int pos = c + p;
                long row = ((long)table[pos / bs] * bs + pos % bs) * j.RowWidth + kvOffset;
                float* key = j.Keys + row;
                vRows[p] = j.Values + row;
                for (int k = 0; k < g; k++)
                {
                    float sc = Dot(q0 + k * hd, key, hd) * j.Scale;
                    scores[k * ChunkLen + p] = sc;
                    chunkMax[k] = MathF.Max(chunkMax[k], sc);
                }
            }
            for (int k = 0; k < g; k++)
            {
                float newMax = MathF.Max(max[k], chunkMax[k]);
                if (newMax > max[k] && sum[k] != 0)
                {
                    float alpha = MathF.Exp(max[k] - newMax);
                    sum[k] *= alpha;
                    Scale(o0 + k * hd, alpha, hd);
                }
                max[k] = newMax;
                float* sk = scores + k * ChunkLen;
                for (int p = 0; p < len; p++)
                {
                    float e = MathF.Exp(sk[p] - newMax);
                    sum[k] += e;
                    sk[p] = e;
                }
            }
            for (int k = 0; k < g; k++) Accumulate(o0 + k * hd, scores + k * ChunkLen, vRows, len, hd);
        }
        for (int k = 0; k < g; k++) Scale(o0 + k * hd, 1f / sum[k], hd);
    }

    /// <summary>
    /// <c>o += e[p] · rows[p]</c> for p in order: for head dims a multiple of 64, 64 columns at a time with that slab of
    /// <c>o</c> held in registers across the chunk (per element the same fused multiply-adds in the same order as
    /// <see cref="Axpy"/> per row, so the same bits, without a store and reload of <c>o</c> per row).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Accumulate(float* o, float* e, float** rows, int len, int hd)
    {
        if (hd % 64 != 0)
        {
            for (int p = 0; p < len; p++) Axpy(e[p], rows[p], o, hd);
            return;
        }
        for (int col = 0; col < hd; col += 64)
        {
            float* oc = o + col;
            var a0 = Vector512.Load(oc); var a1 = Vector512.Load(oc + 16); var a2 = Vector512.Load(oc + 32); var a3 = Vector512.Load(oc + 48);
            for (int p = 0; p < len; p++)
            {
                var s = Vector512.Create(e[p]);
                float* v = rows[p] + col;
                a0 = Vector512.FusedMultiplyAdd(s, Vector512.Load(v), a0);
                a1 = Vector512.FusedMultiplyAdd(s, Vector512.Load(v + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(s, Vector512.Load(v + 32), a2);
                a3 = Vector512.FusedMultiplyAdd(s, Vector512.Load(v + 48), a3);
            }
            a0.Store(oc); a1.Store(oc + 16); a2.Store(oc + 32); a3.Store(oc + 48);
        }
    }

    /// <summary>
    /// The dot products of <paramref name="q"/> with 16 key rows, lane i for row i, each bit for bit
    /// <see cref="Dot"/>'s: the same fused multiply-add chain per row, then the same reduction tree as
    /// <c>Vector512.Sum</c> — ((l0 + l1) + (l2 + l3)) over the 128-bit lanes of ((x0 + x1) + (x2 + x3)) — done for 16
    /// rows at once with in-lane and cross-lane shuffles instead of 16 horizontal sums. Head dims a multiple of 16.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Dots16(float* q, float** keys, int hd)
    {
        var r0 = Dots4(q, keys, hd);
        var r1 = Dots4(q, keys + 4, hd);
        var r2 = Dots4(q, keys + 8, hd);
        var r3 = Dots4(q, keys + 12, hd);
        // 128-bit lanes: r_j holds rows 4j..4j+3 in each lane L; x = [r0 L0+L1, r0 L2+L3, r1 L0+L1, r1 L2+L3], z likewise
        var x = Avx512F.Shuffle4x128(r0, r1, 0x88) + Avx512F.Shuffle4x128(r0, r1, 0xDD);
        var z = Avx512F.Shuffle4x128(r2, r3, 0x88) + Avx512F.Shuffle4x128(r2, r3, 0xDD);
        return Avx512F.Shuffle4x128(x, z, 0x88) + Avx512F.Shuffle4x128(x, z, 0xDD);
    }

    /// <summary>Four rows' FMA chains, reduced within each 128-bit lane: lane L holds ((x0 + x1) + (x2 + x3)) of rows 0–3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Dots4(float* q, float** keys, int hd)
    {
        float* k0 = keys[0], k1 = keys[1], k2 = keys[2], k3 = keys[3];
        Vector512<float> a = Vector512<float>.Zero, b = Vector512<float>.Zero, c = Vector512<float>.Zero, d = Vector512<float>.Zero;
        for (int i = 0; i < hd; i += 16)
        {
            var qi = Vector512.Load(q + i);
            a = Vector512.FusedMultiplyAdd(qi, Vector512.Load(k0 + i), a);
            b = Vector512.FusedMultiplyAdd(qi, Vector512.Load(k1 + i), b);
            c = Vector512.FusedMultiplyAdd(qi, Vector512.Load(k2 + i), c);
            d = Vector512.FusedMultiplyAdd(qi, Vector512.Load(k3 + i), d);
        }
        var ab = Avx512F.Shuffle(a, b, 0x88) + Avx512F.Shuffle(a, b, 0xDD); // [a0+a1, a2+a3, b0+b1, b2+b3] per lane
        var cd = Avx512F.Shuffle(c, d, 0x88) + Avx512F.Shuffle(c, d, 0xDD);
        return Avx512F.Shuffle(ab, cd, 0x88) + Avx512F.Shuffle(ab, cd, 0xDD);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Dot(float* a, float* b, int n)
    {
        int i = 0;
        float s = 0;
        if (n >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), acc);
            s = Vector512.Sum(acc);
        }
        for (; i < n; i++) s += a[i] * b[i];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Axpy(float alpha, float* x, float* y, int n)
    {
        int i = 0;
        var a = Vector512.Create(alpha);
        for (; i + 16 <= n; i += 16) Vector512.FusedMultiplyAdd(a, Vector512.Load(x + i), Vector512.Load(y + i)).Store(y + i);
        for (; i < n; i++) y[i] += alpha * x[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale(float* y, float alpha, int n)
    {
        int i = 0;
        var a = Vector512.Create(alpha);
        for (; i + 16 <= n; i += 16) (Vector512.Load(y + i) * a).Store(y + i);
        for (; i < n; i++) y[i] *= alpha;
    }
}
