using PagedAttention.Kernels.Cpu;

namespace PagedAttention.Tests.Kernels;

public class AttentionTests
{
    /// <summary>A batch of sequences with shuffled (non-contiguous) block tables and their K/V written to a cache.</summary>
    private sealed class Batch : IDisposable
    {
        public required CpuKvCache Cache { get; init; }
        public required int[] QueryStarts { get; init; }
        public required int[] ContextLens { get; init; }
        public required int[] BlockTables { get; init; }
        public required int MaxBlocks { get; init; }
        public required float[] Q { get; init; }
        public void Dispose() => Cache.Dispose();
    }

    private static Batch Make(int[] ctx, int[] qLens, int numHeads, int numKv, int hd, int bs, int seed)
    {
        var rng = new Random(seed);
        int maxBlocks = ctx.Max() / bs + 1;
        int numBlocks = ctx.Length * maxBlocks + 3;
        var cache = new CpuKvCache(1, numBlocks, bs, numKv, hd);
        var layer = cache.Layer(0);
        var ids = Enumerable.Range(0, numBlocks).OrderBy(_ => rng.Next()).ToArray();
        var tables = new int[ctx.Length * maxBlocks];
        Array.Fill(tables, -1); // unused entries must never be read
        int next = 0;
        for (int s = 0; s < ctx.Length; s++)
        {
            for (int b = 0; b < (ctx[s] + bs - 1) / bs; b++) tables[s * maxBlocks + b] = ids[next++];
            for (int p = 0; p < ctx[s]; p++)
            {
                int slot = tables[s * maxBlocks + p / bs] * bs + p % bs;
                TestWeights.RandomVector(rng, numKv * hd).CopyTo(layer.KeyRow(slot));
                TestWeights.RandomVector(rng, numKv * hd).CopyTo(layer.ValueRow(slot));
            }
        }
        var starts = new int[ctx.Length + 1];
        for (int s = 0; s < ctx.Length; s++) starts[s + 1] = starts[s] + qLens[s];
        return new Batch
        {
            Cache = cache, QueryStarts = starts, ContextLens = ctx, BlockTables = tables, MaxBlocks = maxBlocks,
            Q = TestWeights.RandomVector(rng, starts[^1] * numHeads * hd, 2f),
        };
    }

    private static double[] Reference(Batch b, int numHeads, float scale)
    {
        var layer = b.Cache.Layer(0);
        int hd = layer.HeadDim, bs = layer.BlockSize, group = numHeads / layer.NumKvHeads;
        var o = new double[b.Q.Length];
        for (int s = 0; s < b.ContextLens.Length; s++)
        {
            int q0 = b.QueryStarts[s], qLen = b.QueryStarts[s + 1] - q0;
            for (int j = 0; j < qLen; j++)
            {
                int visible = b.ContextLens[s] - qLen + j + 1;
                for (int h = 0; h < numHeads; h++)
                {
                    var sc = new double[visible];
                    for (int p = 0; p < visible; p++)
                    {
                        var k = layer.KeyRow(b.BlockTables[s * b.MaxBlocks + p / bs] * bs + p % bs).Slice(h / group * hd, hd);
                        for (int i = 0; i < hd; i++) sc[p] += b.Q[((q0 + j) * numHeads + h) * hd + i] * (double)k[i];
                        sc[p] *= scale;
                    }
                    double max = sc.Max(), sum = sc.Sum(v => Math.Exp(v - max));
                    for (int p = 0; p < visible; p++)
                    {
                        var v = layer.ValueRow(b.BlockTables[s * b.MaxBlocks + p / bs] * bs + p % bs).Slice(h / group * hd, hd);
                        double a = Math.Exp(sc[p] - max) / sum;
                        for (int i = 0; i < hd; i++) o[((q0 + j) * numHeads + h) * hd + i] += a * v[i];
                    }
                }
            }
        }
        return o;
    }

    [Theory]
    [InlineData(8, 2, 16, 4)]   // GQA group 4, blocks of 4
    [InlineData(6, 3, 20, 16)]  // head dim not a multiple of the vector width
    [InlineData(4, 4, 64, 16)]  // MHA
    [InlineData(2, 1, 7, 5)]    // tiny odd head dim, MQA
    public void MatchesReferenceOnMixedPrefillAndDecode(int numHeads, int numKv, int hd, int bs)
    {
        // Sequence 0 decodes one token with a long context (crosses the 64-position chunk), 1 is a fresh prefill
        // ending in a partial block, 2 is a chunked prefill on top of an earlier context, 3 decodes at context 1.
        int[] ctx = [150, 13, 41, 1];
        int[] qLens = [1, 13, 9, 1];
        using var b = Make(ctx, qLens, numHeads, numKv, hd, bs, seed: hd * 7 + bs);
        float scale = 1f / MathF.Sqrt(hd);
        var o = new float[b.Q.Length];
        CpuOps.PagedAttention(b.Q, o, numHeads, b.QueryStarts, b.ContextLens, b.BlockTables, b.MaxBlocks, b.Cache.Layer(0), scale);
        var expected = Reference(b, numHeads, scale);
        for (int i = 0; i < o.Length; i++) Assert.True(Math.Abs(o[i] - expected[i]) < 2e-5, $"element {i}: {o[i]} vs {expected[i]}");
    }

    [Fact]
    public void SequenceResultIsIndependentOfBatch()
    {
        const int numHeads = 8, numKv = 2, hd = 64, bs = 16;
        int[] ctx = [100, 37, 200, 5];
        int[] qLens = [1, 37, 1, 3];
        using var b = Make(ctx, qLens, numHeads, numKv, hd, bs, seed: 3);
        var layer = b.Cache.Layer(0);
        var all = new float[b.Q.Length];
        CpuOps.PagedAttention(b.Q, all, numHeads, b.QueryStarts, b.ContextLens, b.BlockTables, b.MaxBlocks, layer, 0.125f);
        using var pool1 = new CpuWorkerPool(1);
        var serial = new float[b.Q.Length];
        CpuOps.PagedAttention(b.Q, serial, numHeads, b.QueryStarts, b.ContextLens, b.BlockTables, b.MaxBlocks, layer, 0.125f, pool1);
        Assert.Equal(all, serial);
        int rowLen = numHeads * hd;
        for (int s = 0; s < ctx.Length; s++)
        {
            int q0 = b.QueryStarts[s], qLen = qLens[s];
            var alone = new float[qLen * rowLen];
            CpuOps.PagedAttention(b.Q.AsSpan(q0 * rowLen, qLen * rowLen), alone, numHeads, [0, qLen], [ctx[s]],
                b.BlockTables.AsSpan(s * b.MaxBlocks, b.MaxBlocks), b.MaxBlocks, layer, 0.125f);
            Assert.True(alone.AsSpan().SequenceEqual(all.AsSpan(q0 * rowLen, qLen * rowLen)), $"sequence {s} differs alone vs in a batch");
        }
    }

    [Fact]
    public void RejectsBadBlockIdsAndShapes()
    {
        using var b = Make([10], [1], 2, 1, 8, 4, seed: 1);
        var layer = b.Cache.Layer(0);
        var o = new float[b.Q.Length];
        var bad = (int[])b.BlockTables.Clone();
        bad[1] = layer.NumBlocks;
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuOps.PagedAttention(b.Q, o, 2, b.QueryStarts, b.ContextLens, bad, b.MaxBlocks, layer, 1f));
        Assert.Throws<ArgumentException>(() => CpuOps.PagedAttention(b.Q, o, 3, b.QueryStarts, b.ContextLens, b.BlockTables, b.MaxBlocks, layer, 1f));
        Assert.Throws<ArgumentException>(() => CpuOps.PagedAttention(b.Q, o, 2, b.QueryStarts, [2000], b.BlockTables, b.MaxBlocks, layer, 1f));
        Assert.Throws<ArgumentException>(() => CpuOps.PagedAttention(b.Q, new float[3], 2, b.QueryStarts, b.ContextLens, b.BlockTables, b.MaxBlocks, layer, 1f));
    }
}
