using PagedAttention.AI.KvCache;
using static PagedAttention.Tests.KvCache.TestSeqs;

namespace PagedAttention.Tests.KvCache;

public class KvCacheManagerTests
{
    private static void Admit(KvCacheManager kv, TestSeq s, List<KvBlock> hits)
    {
        int cached = kv.FindCachedPrefix(s, hits, out bool pending);
        Assert.False(pending);
        int n = s.NumTokens - cached;
        Assert.True(kv.AllocateSlots(s, n, hits));
        kv.CommitComputed(s, n);
    }

    [Fact]
    public void Prefill_ThenSharedPrefixHit_ExactBlocksRefsAndFreeOrder()
    {
        var kv = new KvCacheManager(10, 16);
        var hits = new List<KvBlock>();
        var a = Make(Range(0, 55));
        Assert.Equal(0, kv.FindCachedPrefix(a, hits, out _));
        Assert.True(kv.AllocateSlots(a, 55, hits));
        kv.CommitComputed(a, 55);
        Assert.Equal([0, 1, 2, 3], Ids(a));
        Assert.Equal(BlockHash.Compute(BlockHash.None, Range(0, 16)), a.Blocks[0].Hash);
        Assert.Equal(BlockHash.Compute(a.Blocks[0].Hash, Range(16, 16)), a.Blocks[1].Hash);
        Assert.True(a.Blocks[2].HasHash && a.Blocks[2].IsComputed);
        Assert.False(a.Blocks[3].HasHash); // partial block never cached
        Assert.Equal(3, kv.Pool.NumCached);

        var b = Make([.. Range(0, 48), 900, 901, 902, 903, 904, 905, 906]);
        Assert.Equal(48, kv.FindCachedPrefix(b, hits, out bool pending));
        Assert.False(pending);
        Assert.True(kv.AllocateSlots(b, 7, hits));
        Assert.Equal(3, b.Table.NumComputed); // the hits count as computed blocks
        Assert.Equal([0, 1, 2, 4], Ids(b));
        Assert.Equal([2, 2, 2, 1, 1], new[] { 0, 1, 2, 3, 4 }.Select(i => kv.Pool[i].RefCount));
        Assert.Equal([5, 6, 7, 8, 9], kv.Pool.FreeQueueIds());

        kv.Free(a);
        Assert.Equal([5, 6, 7, 8, 9, 3], kv.Pool.FreeQueueIds());
        kv.Free(b);
        // Tail-first: each request's last block is evicted before its head.
        Assert.Equal([5, 6, 7, 8, 9, 3, 4, 2, 1, 0], kv.Pool.FreeQueueIds());
        Assert.Equal(10, kv.Pool.NumFree);
        Assert.Equal(3, kv.Pool.NumCached);

        // A 160-token miss consumes blocks in exactly that eviction order, evicting all cached prefixes.
        var c = Make(Range(5000, 160));
        Admit(kv, c, hits);
        Assert.Equal([5, 6, 7, 8, 9, 3, 4, 2, 1, 0], Ids(c));
        Assert.Null(kv.Pool.Lookup(BlockHash.Compute(BlockHash.None, Range(0, 16))));
    }

    [Fact]
    public void Salt_IsolatesTenants()
    {
        var kv = new KvCacheManager(20, 16);
        var hits = new List<KvBlock>();
        Admit(kv, Make(Range(0, 40), salt: "a"), hits);
        Assert.Equal(0, kv.FindCachedPrefix(Make(Range(0, 40), salt: "b"), hits, out _));
        Assert.Equal(0, kv.FindCachedPrefix(Make(Range(0, 40)), hits, out _));
        Assert.Equal(32, kv.FindCachedPrefix(Make(Range(0, 40), salt: "a"), hits, out _));
    }

    [Fact]
    public void Hit_RequiresIdenticalWholeHistory()
    {
        var kv = new KvCacheManager(20, 16);
        var hits = new List<KvBlock>();
        Admit(kv, Make(Range(0, 48)), hits);
        // Same second and third block, different first block: no hit at all.
        var other = Make([.. Range(100, 16), .. Range(16, 32)]);
        Assert.Equal(0, kv.FindCachedPrefix(other, hits, out _));
        // Diverging in block 1: only block 0 hits.
        var branch = Make([.. Range(0, 20), 7777, .. Range(21, 27)]);
        Assert.Equal(16, kv.FindCachedPrefix(branch, hits, out _));
        Assert.Same(kv.Pool[0], hits[0]);
    }

    [Fact]
    public void FullyCachedPrompt_LeavesLastTokenToCompute()
    {
        var kv = new KvCacheManager(20, 16);
        var hits = new List<KvBlock>();
        Admit(kv, Make(Range(0, 32)), hits);
        Assert.Equal(16, kv.FindCachedPrefix(Make(Range(0, 32)), hits, out _));
        Assert.Equal(32, kv.FindCachedPrefix(Make(Range(0, 33)), hits, out _));
    }

    [Fact]
    public void PendingBlock_IsReportedNotHit_UntilComputed()
    {
        var kv = new KvCacheManager(20, 16);
        var hits = new List<KvBlock>();
        var a = Make(Range(0, 40));
        Assert.True(kv.AllocateSlots(a, 40, hits)); // registered as pending, KV not written yet
        Assert.Equal(0, kv.FindCachedPrefix(Make(Range(0, 40)), hits, out bool pending));
        Assert.True(pending);
        kv.CommitComputed(a, 40);
        Assert.Equal(32, kv.FindCachedPrefix(Make(Range(0, 40)), hits, out pending));
        Assert.False(pending);
    }

    [Fact]
    public void FreedBeforeComputed_IsForgotten()
    {
        var kv = new KvCacheManager(20, 16);
        var hits = new List<KvBlock>();
        var a = Make(Range(0, 40));
        Assert.True(kv.AllocateSlots(a, 40, hits));
        kv.Free(a); // e.g. preempted or failed before the forward pass
        Assert.Equal(0, kv.FindCachedPrefix(Make(Range(0, 40)), hits, out bool pending));
        Assert.False(pending);
        Assert.Equal(0, kv.Pool.NumCached);
    }

    [Fact]
    public void AllocateSlots_WhenShort_ChangesNothing_AndCountsEvictableHits()
    {
        var kv = new KvCacheManager(4, 16);
        var hits = new List<KvBlock>();
        var a = Make(Range(0, 48));
        Admit(kv, a, hits);
        kv.Free(a); // 3 cached free blocks + 1 free
        var b = Make(Range(0, 80)); // 64 tokens would hit (3 blocks max: 48), needs 5 blocks total
        Assert.Equal(48, kv.FindCachedPrefix(b, hits, out _));
        Assert.False(kv.AllocateSlots(b, 32, hits));
        Assert.Empty(b.Blocks);
        Assert.Equal(4, kv.Pool.NumFree);
        Assert.Equal(0, b.Table.NumComputed);
        Assert.Equal(0, b.Table.NumRegistered);
        var c = Make(Range(0, 60)); // 3 hits + 1 new = 4 blocks: fits exactly
        Assert.Equal(48, kv.FindCachedPrefix(c, hits, out _));
        Assert.True(kv.AllocateSlots(c, 12, hits));
        Assert.Equal(0, kv.Pool.NumFree);
    }

    [Fact]
    public void DecodeGrowth_AllocatesBlockOnlyAtBoundary_AndCachesGeneratedBlocks()
    {
        var kv = new KvCacheManager(8, 16);
        var hits = new List<KvBlock>();
        var a = Make(Range(0, 15), maxTokens: 40);
        Admit(kv, a, hits);
        Assert.Single(a.Blocks);
        a.AppendToken(500);
        Assert.True(kv.AllocateSlots(a, 1));
        Assert.Single(a.Blocks);
        kv.CommitComputed(a, 1);
        Assert.True(a.Blocks[0].HasHash && a.Blocks[0].IsComputed); // prompt + generated token form a full block
        a.AppendToken(501);
        Assert.True(kv.AllocateSlots(a, 1));
        Assert.Equal(2, a.Blocks.Count);
    }
}
