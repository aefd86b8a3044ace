namespace PagedAttention.AI.KvCache;

/// <summary>
/// Owns every KV block: reference counts, the LRU free queue and the prefix-cache map (hash → block).
/// Free blocks may still hold a cached prefix; they are evicted only when popped from the head of the free
/// queue for a new allocation. Not thread-safe: the engine's step loop is its only user.
/// </summary>
internal sealed class BlockPool
{
    private readonly KvBlock[] _blocks;
    private readonly FreeBlockQueue _free;
    private readonly Dictionary<BlockHash, KvBlock> _cached;

    public BlockPool(int numBlocks, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        _blocks = new KvBlock[numBlocks];
        for (int i = 0; i < numBlocks; i++) _blocks[i] = new KvBlock(i);
        _free = new FreeBlockQueue(_blocks);
        _cached = new Dictionary<BlockHash, KvBlock>(numBlocks);
    }

    /// <summary>Total number of blocks.</summary>
    public int NumBlocks { get; }

    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }

    /// <summary>Blocks with reference count 0 (some may still hold a reusable cached prefix).</summary>
    public int NumFree => _free.Count;

    /// <summary>Blocks currently registered in the prefix cache (free or in use).</summary>
    public int NumCached => _cached.Count;

    /// <summary>Distinct blocks held by at least one pin.</summary>
    public int NumPinned { get; private set; }

    /// <summary>Called with a computed cached block just before its eviction (the host tier copies it out).</summary>
    public Action<KvBlock>? OnEvict { get; set; }

    /// <summary>Blocks evicted from the prefix cache so far.</summary>
    public long NumEvictions { get; private set; }

    /// <summary>The block with id <paramref name="id"/>.</summary>
    public KvBlock this[int id] => _blocks[id];

    /// <summary>Free-queue order, head (next evicted) first. Diagnostics and tests only.</summary>
    public List<int> FreeQueueIds() => _free.ToIdList();

    /// <summary>The registered block for <paramref name="hash"/>, or null.</summary>
    public KvBlock? Lookup(in BlockHash hash) => _cached.TryGetValue(hash, out var b) ? b : null;

    /// <summary>A prefix hit: takes a reference, pulling the block out of the free queue if it was free.</summary>
    public void Touch(KvBlock block)
    {
        if (block.RefCount == 0) _free.Remove(block);
        block.RefCount++;
    }

    /// <summary>A pin on a computed block: a reference (out of the free queue) plus the pin count.</summary>
    public void Pin(KvBlock block)
    {
        if (!block.IsComputed) throw new InvalidOperationException($"{block}: only computed blocks can be pinned.");
        Touch(block);
        if (block.PinCount++ == 0) NumPinned++;
    }

    /// <summary>Drops one pin and its reference; an unpinned block with no other reference becomes evictable again.</summary>
    public void Unpin(KvBlock block)
    {
        if (block.PinCount <= 0) throw new InvalidOperationException($"{block}: pin count would go negative.");
        if (--block.PinCount == 0) NumPinned--;
        Release(block);
    }

    /// <summary>Pops the head of the free queue (evicting its cached prefix if any) with reference count 1.</summary>
    public KvBlock AllocateOne()
    {
        var b = _free.PopFront();
        if (b.HasHash)
        {
            if (b.IsComputed) OnEvict?.Invoke(b);
            Unregister(b);
            NumEvictions++;
        }
        b.IsComputed = false;
        b.RefCount = 1;
        return b;
    }

    /// <summary>
    /// Drops one reference. At zero the block goes to the free-queue tail; a block whose KV was never fully
    /// computed is unregistered first, since nobody may ever reuse its content.
    /// </summary>
    public void Release(KvBlock block)
    {
        if (block.RefCount <= 0) throw new InvalidOperationException($"{block}: reference count would go negative.");
        block.RefCount--;
        if (block.RefCount > 0) return;
        if (block.HasHash && !block.IsComputed) Unregister(block);
        _free.Append(block);
    }

    /// <summary>
    /// Registers a full (or about to be full) block under <paramref name="hash"/>. Returns false when another
    /// block already holds that content; the block then stays private (block tables are append-only, so we keep
    /// the duplicate rather than remapping).
    /// </summary>
    public bool Register(KvBlock block, in BlockHash hash)
    {
        if (block.HasHash) return block.Hash == hash;
        if (!_cached.TryAdd(hash, block)) return false;
        block.Hash = hash;
        block.HasHash = true;
        return true;
    }

    /// <summary>
    /// Verifies the pool's internal consistency and throws <see cref="InvalidOperationException"/> naming the first
    /// violation: no negative reference count; the free queue holds exactly the ref-0 blocks, each once; every
    /// prefix-cache entry points at a block registered under that hash; a free registered block is computed
    /// (a pending block is unregistered when its last reference goes). O(blocks); for tests and debug runs.
    /// </summary>
    internal void CheckInvariants()
    {
        int refZero = 0, pinned = 0;
        foreach (var b in _blocks)
        {
            if (b.RefCount < 0) throw new InvalidOperationException($"{b}: negative reference count.");
            if (b.PinCount < 0 || b.PinCount > b.RefCount) throw new InvalidOperationException($"{b}: pin count outside 0..reference count.");
            if (b.PinCount > 0) pinned++;
            bool linked = FreeBlockQueue.Contains(b);
            if ((b.RefCount == 0) != linked)
                throw new InvalidOperationException($"{b}: {(linked ? "in the free queue while referenced" : "unreferenced but not in the free queue")}.");
            if (b.RefCount == 0)
            {
                refZero++;
                if (b.HasHash && !b.IsComputed) throw new InvalidOperationException($"{b}: free, registered and never computed.");
            }
            if (b.HasHash && (!_cached.TryGetValue(b.Hash, out var owner) || !ReferenceEquals(owner, b)))
                throw new InvalidOperationException($"{b}: has a hash but is not the prefix cache's entry for it.");
        }
        if (pinned != NumPinned) throw new InvalidOperationException($"{pinned} blocks are pinned but the pool counts {NumPinned}.");
        if (refZero != _free.Count) throw new InvalidOperationException($"Free queue counts {_free.Count} blocks but {refZero} have reference count 0.");
        if (_free.ToIdList().Count != refZero) throw new InvalidOperationException("Free queue links disagree with its count.");
        foreach (var (hash, b) in _cached)
            if (!b.HasHash || b.Hash != hash) throw new InvalidOperationException($"Prefix cache entry points at {b}, which is not registered under that hash.");
    }

    private void Unregister(KvBlock b)
    {
        if (_cached.TryGetValue(b.Hash, out var owner) && ReferenceEquals(owner, b)) _cached.Remove(b.Hash);
        b.HasHash = false;
        b.Hash = default;
    }
}
