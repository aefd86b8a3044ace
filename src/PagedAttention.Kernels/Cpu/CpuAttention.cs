using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// Paged causal attention: one pool task per (query token, head). Each task walks the sequence's block table in
/// chunks of <see cref="ChunkLen"/> positions with an online softmax (running max and sum, accumulator rescaled
/// once per chunk), so it needs only a fixed-size stack buffer for scores whatever the context length.
/// </summary>
/// <remarks>
/// A task's arithmetic depends only on its own query row and the sequence's cache, never on the batch or the
/// thread, so a sequence gets bit-identical output alone or among 64 others.
/// </remarks>
internal static unsafe class CpuAttention
{
    private const int ChunkLen = 64;

    // Pool tasks group this many (token, head) items to amortise the dispatch of tiny decode items.
    private const int ItemsPerTask = 4;

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
            BlockSize = layer.BlockSize, MaxBlocksPerSeq = maxBlocksPerSeq, Items = tokens * numHeads, Scale = scale,
        };
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
            int t = j.QueryStarts[0] + item / j.NumHeads, h = item % j.NumHeads;
            // Find the sequence owning token t (few sequences per step; a linear scan beats bookkeeping).
            int s = 0;
            while (j.QueryStarts[s + 1] <= t) s++;
            int qLen = j.QueryStarts[s + 1] - j.QueryStarts[s];
            int visible = j.ContextLens[s] - qLen + (t - j.QueryStarts[s]) + 1;
            One(ref j, t, h, visible, j.BlockTables + (long)s * j.MaxBlocksPerSeq);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void One(ref Job j, int t, int h, int visible, int* table)
    {
        int hd = j.HeadDim, bs = j.BlockSize;
        long kvOffset = (long)(h / j.Group) * hd;
        float* qv = j.Q + ((long)t * j.NumHeads + h) * hd;
        float* o = j.O + ((long)t * j.NumHeads + h) * hd;
        float* scores = stackalloc float[ChunkLen];
        float** vRows = stackalloc float*[ChunkLen];
        new Span<float>(o, hd).Clear();
        float max = float.NegativeInfinity, sum = 0;
        for (int c = 0; c < visible; c += ChunkLen)
        {
            int len = Math.Min(ChunkLen, visible - c);
            float chunkMax = float.NegativeInfinity;
            for (int p = 0; p < len; p++)
            {
                int pos = c + p;
                long row = ((long)table[pos / bs] * bs + pos % bs) * j.RowWidth + kvOffset;
                float sc = Dot(qv, j.Keys + row, hd) * j.Scale;
                scores[p] = sc;
                vRows[p] = j.Values + row;
                chunkMax = MathF.Max(chunkMax, sc);
            }
            float newMax = MathF.Max(max, chunkMax);
            if (newMax > max && sum != 0)
            {
                float alpha = MathF.Exp(max - newMax);
                sum *= alpha;
                Scale(o, alpha, hd);
            }
            max = newMax;
            for (int p = 0; p < len; p++)
            {
                float e = MathF.Exp(scores[p] - max);
                sum += e;
                Axpy(e, vRows[p], o, hd);
            }
        }
        Scale(o, 1f / sum, hd);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(float* a, float* b, int n)
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
    private static void Axpy(float alpha, float* x, float* y, int n)
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
