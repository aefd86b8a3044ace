using PagedAttention.AI.KvCache;
using static PagedAttention.Tests.KvCache.TestSeqs;

namespace PagedAttention.Tests.KvCache;

public class BlockPoolTests
{
    [Fact]
    public void FreeQueue_IsFifoAndRemovesFromMiddle()
    {
        var pool = new BlockPool(5, 16);
        Assert.Equal([0, 1, 2, 3, 4], pool.FreeQueueIds());
        var a = pool.AllocateOne();
        var b = pool.AllocateOne();
        Assert.Equal(0, a.Id);
        Assert.Equal(1, b.Id);
        Assert.Equal(3, pool.NumFree);
        pool.Release(b);
        pool.Release(a);
        Assert.Equal([2, 3, 4, 1, 0], pool.FreeQueueIds());
        pool.Touch(pool[4]); // a prefix hit pulls a block out of the middle
        Assert.Equal([2, 3, 1, 0], pool.FreeQueueIds());
        Assert.Equal(1, pool[4].RefCount);
    }

    [Fact]
    public void Release_BelowZero_Throws()
    {
        var pool = new BlockPool(2, 16);
        var a = pool.AllocateOne();
        pool.Release(a);
        Assert.Throws<InvalidOperationException>(() => pool.Release(a));
        Assert.Equal(0, a.RefCount);
        Assert.Equal(2, pool.NumFree);
    }

    [Fact]
    public void Allocation_EvictsCachedPrefixOnlyWhenPoppedFromHead()
    {
        var pool = new BlockPool(2, 16);
        var a = pool.AllocateOne();
        var h = BlockHash.Compute(BlockHash.None, Range(0, 16));
        Assert.True(pool.Register(a, h));
        a.IsComputed = true;
        pool.Release(a);
        Assert.Same(a, pool.Lookup(h)); // free but still cached
        Assert.Equal(1, pool.NumCached);
        var b = pool.AllocateOne(); // block 1 is at the head: no eviction
        Assert.Equal(1, b.Id);
        Assert.Same(a, pool.Lookup(h));
        var c = pool.AllocateOne(); // now block 0 must be evicted
        Assert.Same(a, c);
        Assert.Null(pool.Lookup(h));
        Assert.False(c.HasHash);
        Assert.Equal(1, pool.NumEvictions);
    }

    [Fact]
    public void ReleasingAnUncomputedRegisteredBlock_Unregisters()
    {
        var pool = new BlockPool(2, 16);
        var a = pool.AllocateOne();
        var h = BlockHash.Compute(BlockHash.None, Range(0, 16));
        pool.Register(a, h);
        pool.Release(a);
        Assert.Null(pool.Lookup(h));
    }

    [Fact]
    public void Register_DuplicateContentKeepsFirstOwner()
    {
        var pool = new BlockPool(2, 16);
        var a = pool.AllocateOne();
        var b = pool.AllocateOne();
        var h = BlockHash.Compute(BlockHash.None, Range(0, 16));
        Assert.True(pool.Register(a, h));
        Assert.False(pool.Register(b, h));
        Assert.False(b.HasHash);
        Assert.Same(a, pool.Lookup(h));
    }

    [Fact]
    public void Hash_ChainsParentAndSaltAndIsDeterministic()
    {
        var t = Range(5, 16);
        Assert.Equal(BlockHash.Compute(BlockHash.None, t), BlockHash.Compute(BlockHash.None, t));
        Assert.NotEqual(BlockHash.Compute(BlockHash.None, t), BlockHash.Compute(BlockHash.Root("tenant-a"), t));
        Assert.NotEqual(BlockHash.Root("tenant-a"), BlockHash.Root("tenant-b"));
        Assert.Equal(BlockHash.None, BlockHash.Root(null));
        var p1 = BlockHash.Compute(BlockHash.None, Range(0, 16));
        var p2 = BlockHash.Compute(BlockHash.None, Range(1, 16));
        Assert.NotEqual(BlockHash.Compute(p1, t), BlockHash.Compute(p2, t));
        Assert.NotEqual(BlockHash.Private(1), BlockHash.Private(2));
    }

    [Fact]
    public void CheckInvariants_PassesOnValidStates_AndNamesCorruption()
    {
        var pool = new BlockPool(4, 16);
        pool.CheckInvariants();
        var a = pool.AllocateOne();
        var b = pool.AllocateOne();
        pool.Register(a, new BlockHash(1, 2));
        pool.CheckInvariants();
        a.IsComputed = true;
        pool.Touch(a);
        pool.Release(a);
        pool.Release(a);
        pool.Release(b);
        pool.CheckInvariants(); // a is free and still cached

        pool[3].RefCount = -1;
        Assert.Contains("negative", Assert.Throws<InvalidOperationException>(pool.CheckInvariants).Message);
        pool[3].RefCount = 1;
        Assert.Contains("in the free queue while referenced", Assert.Throws<InvalidOperationException>(pool.CheckInvariants).Message);
        pool[3].RefCount = 0;
        a.IsComputed = false;
        Assert.Contains("never computed", Assert.Throws<InvalidOperationException>(pool.CheckInvariants).Message);
    }
}
