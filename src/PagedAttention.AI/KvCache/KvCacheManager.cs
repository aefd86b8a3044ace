namespace PagedAttention.AI.KvCache;

/// <summary>
/// Block tables over the <see cref="BlockPool"/>, after vLLM v1's KVCacheManager: find the cached prefix of a token
/// sequence, allocate slots for the tokens a step will compute, register blocks that will be full after the step,
/// mark them computed after the forward pass, and free a table tail-first. Knows blocks and tokens, not requests:
/// callers pass a <see cref="BlockTable"/> and the sequence's token counts.
/// </summary>
internal sealed class KvCacheManager
{
    public KvCacheManager(int numBlocks, int blockSize, int numHostBlocks = 0, int numTierBlocks = 0)
    {
        Pool = new BlockPool(numBlocks, blockSize);
        BlockSize = blockSize;
        Host = numHostBlocks > 0 ? new HostBlockPool(numHostBlocks) : null;
        _tierOffset = numHostBlocks;
        if (numTierBlocks > 0)
        {
            Tier = new HostPrefixTier(numTierBlocks);
            Pool.OnEvict = b =>
            {
                int id = Tier.Offer(b.Hash);
                if (id < 0) return;
                PendingSwapOut.Add(b.Id);
                PendingSwapOut.Add(_tierOffset + id);
                TierBlocksOut++;
            };
        }
    }

    private readonly int _tierOffset; // host-region ids: the swap space first, then the tier

    /// <summary>The host tier of the prefix cache, or null.</summary>
    public HostPrefixTier? Tier { get; }

    /// <summary>Blocks copied to / restored from the host tier so far.</summary>
    public long TierBlocksOut { get; private set; }

    /// <inheritdoc cref="TierBlocksOut"/>
    public long TierBlocksIn { get; private set; }

    /// <summary>Prompt tokens served from the host tier (copied back instead of recomputed).</summary>
    public long TierHitTokens { get; private set; }

    /// <summary>The swap space's host blocks, or null without one (preemption recomputes).</summary>
    public HostBlockPool? Host { get; }

    /// <summary>(device id, host id) pairs to copy out before the next forward pass (swap-outs decided by this schedule).</summary>
    public List<int> PendingSwapOut { get; } = new(64);

    /// <summary>(host id, device id) pairs to copy in before the next forward pass, after the swap-outs and block copies.</summary>
    public List<int> PendingSwapIn { get; } = new(64);

    private readonly List<int> _hostToFree = new(64);

    /// <summary>
    /// Swaps <paramref name="table"/> out: every block gets a host block and a pending copy, then the device blocks are
    /// released as <see cref="Free"/> does (full ones stay in the prefix cache). False, changing nothing, when the swap
    /// space is short. The sequence keeps its computed tokens.
    /// </summary>
    public bool SwapOut(BlockTable table)
    {
        if (Host is not { } host || table.Count > host.NumFree || table.Count == 0) return false;
        var ids = table.EnsureHostBlocks();
        for (int i = 0; i < table.Count; i++)
        {
            ids[i] = host.Allocate();
            PendingSwapOut.Add(table.Blocks[i].Id);
            PendingSwapOut.Add(ids[i]);
        }
        table.NumHostBlocks = table.Count;
        Free(table);
        return true;
    }

    /// <summary>
    /// Swaps a table back in so that <paramref name="numNewTokens"/> more tokens fit after its
    /// <paramref name="numComputedTokens"/>: full blocks still in the prefix cache are taken by reference (their host copy
    /// is not needed), the others get fresh device blocks and a pending copy from host memory (registered and marked
    /// computed: the copy runs before any forward pass that could read them). False, changing nothing, when the pool is short.
    /// </summary>
    public bool TrySwapIn(BlockTable table, ReadOnlySpan<int> knownTokens, int numTokens, int numComputedTokens, int numNewTokens, List<KvBlock> scratch)
    {
        int n = table.NumHostBlocks;
        if (n == 0 || table.Count != 0) throw new InvalidOperationException($"{table} is not swapped out.");
        int full = numComputedTokens / BlockSize;
        scratch.Clear();
        int restore = 0, hitsLeavingFreeQueue = 0;
        for (int i = 0; i < n; i++)
        {
            KvBlock? hit = i < full ? Pool.Lookup(table.HashAt(i, knownTokens)) : null;
            if (hit is { IsComputed: true })
            {
                if (hit.RefCount == 0) hitsLeavingFreeQueue++;
            }
            else
            {
                hit = null;
                restore++;
            }
            scratch.Add(hit!);
        }
        int extra = Math.Max(0, BlocksFor(numComputedTokens + numNewTokens) - n);
        if (restore + extra + hitsLeavingFreeQueue > Pool.NumFree) return false;
        var host = table.HostBlocks!;
        var blocks = table.Blocks;
        for (int i = 0; i < n; i++)
        {
            if (scratch[i] is { } hit) Pool.Touch(hit);
            else
            {
                hit = Pool.AllocateOne();
                PendingSwapIn.Add(host[i]);
                PendingSwapIn.Add(hit.Id);
                if (i < full && Pool.Register(hit, table.HashAt(i, knownTokens))) hit.IsComputed = true;
            }
            blocks.Add(hit);
            _hostToFree.Add(host[i]);
        }
        table.NumHostBlocks = 0;
        table.NumRegistered = table.NumComputed = full;
        scratch.Clear();
        if (!AllocateSlots(table, knownTokens, numTokens, numComputedTokens, numNewTokens)) throw new InvalidOperationException("Swap-in allocation failed after the pool check.");
        return true;
    }

    /// <summary>Releases the host blocks of a swapped-out table that ends (finished or aborted while swapped).</summary>
    public void FreeHost(BlockTable table)
    {
        for (int i = 0; i < table.NumHostBlocks; i++) Host!.Free(table.HostBlocks![i]);
        table.NumHostBlocks = 0;
    }

    /// <summary>After the pending copies ran: the host blocks that were copied in are free again.</summary>
    public void CopiesDone()
    {
        if (_hostToFree.Count == 0 && PendingSwapOut.Count == 0 && PendingSwapIn.Count == 0 && PendingCopies.Count == 0 && Tier is null) return;
        PendingSwapOut.Clear();
        PendingSwapIn.Clear();
        PendingCopies.Clear();
        foreach (int h in _hostToFree) Host!.Free(h);
        _hostToFree.Clear();
        Tier?.CopiesDone();
    }

    public BlockPool Pool { get; }

    public int BlockSize { get; }

    /// <summary>Prompt tokens looked up in the prefix cache (one lookup per admission).</summary>
    public long PrefixQueryTokens { get; private set; }

    /// <summary>Of those, tokens found cached.</summary>
    public long PrefixHitTokens { get; private set; }

    /// <summary>
    /// Block copies (source id, destination id pairs) that allocation decided since the caller last took them: a
    /// partially filled last block shared by forked tables is copied on write. The engine runs them on the device
    /// before the step's forward pass and clears the list.
    /// </summary>
    public List<int> PendingCopies { get; } = new(64);

    /// <summary>Blocks copied on write so far.</summary>
    public long NumCopiedBlocks => Interlocked.Read(ref _numCopiedBlocks);

    private long _numCopiedBlocks;

    /// <summary>Blocks needed to hold <paramref name="numTokens"/> tokens.</summary>
    public int BlocksFor(int numTokens) => (numTokens + BlockSize - 1) / BlockSize;

    /// <summary>
    /// Longest run of computed cached full blocks at the start of <paramref name="tokens"/> (a sequence whose table
    /// holds no blocks). At least one token is always left to compute, since the step must produce logits. Sets
    /// <paramref name="pending"/> when the first missing block is being computed by another sequence right now:
    /// the caller should wait a step instead of computing the same prefix twice.
    /// </summary>
    public int FindCachedPrefix(BlockTable table, ReadOnlySpan<int> tokens, List<KvBlock> hits, out bool pending, List<int>? tierHits = null)
    {
        if (table.Count != 0) throw new InvalidOperationException($"{table} already holds blocks.");
        hits.Clear();
        tierHits?.Clear();
        pending = false;
        int maxBlocks = (tokens.Length - 1) / BlockSize;
        for (int i = 0; i < maxBlocks; i++)
        {
            var b = Pool.Lookup(table.HashAt(i, tokens));
            if (b is null)
            {
                // Missed on the device: the rest of the prefix may be in the host tier (a table is freed tail first,
                // so its tail blocks are evicted, and copied out, first).
                if (Tier is null || tierHits is null) break;
                for (int j = i; j < maxBlocks; j++)
                {
                    var h = table.HashAt(j, tokens);
                    if (Pool.Lookup(h) is not null) break;
                    int id = Tier.Find(h);
                    if (id < 0) break;
                    tierHits.Add(id);
                }
                break;
            }
            if (!b.IsComputed)
            {
                pending = true;
                break;
            }
            hits.Add(b);
        }
        return (hits.Count + (tierHits?.Count ?? 0)) * BlockSize;
    }

    /// <summary>Counts one admission lookup in the hit-rate counters.</summary>
    public void RecordLookup(int queriedTokens, int hitTokens)
    {
        PrefixQueryTokens += queriedTokens;
        PrefixHitTokens += hitTokens;
    }

    /// <summary>
    /// Takes the cached <paramref name="hits"/> (if any, only at admission) and allocates blocks so that
    /// <paramref name="numNewTokens"/> more tokens fit after <paramref name="numComputedTokens"/> (the hits count as
    /// computed: the caller adds <c>hits.Count * BlockSize</c> to its computed tokens). Returns false, changing
    /// nothing, when the pool is short. Blocks that will be full of <paramref name="knownTokens"/> after this step are
    /// registered in the prefix cache now (as pending) so that identical prefixes arriving meanwhile wait for them
    /// rather than compute them again; a block holding a placeholder (the token of the step in flight, beyond
    /// <paramref name="knownTokens"/>) is registered by a later call, once known.
    /// </summary>
    public bool AllocateSlots(BlockTable table, ReadOnlySpan<int> knownTokens, int numTokens, int numComputedTokens, int numNewTokens, List<KvBlock>? hits = null, List<int>? tierHits = null)
    {
        int numHits = hits?.Count ?? 0, numTier = tierHits?.Count ?? 0;
        if ((numHits > 0 || numTier > 0) && table.Count != 0) throw new InvalidOperationException("Prefix hits are only taken at admission.");
        int computed = numComputedTokens + (numHits + numTier) * BlockSize;
        int total = computed + numNewTokens;
        if (total > numTokens) throw new ArgumentOutOfRangeException(nameof(numNewTokens), "Cannot compute tokens that are not known yet.");
        int needNew = BlocksFor(total) - table.Count - numHits;
        int hitsLeavingFreeQueue = 0;
        for (int i = 0; i < numHits; i++) if (hits![i].RefCount == 0) hitsLeavingFreeQueue++;
        // Copy on write: the step writes into a partially filled last block that a forked table shares.
        int cow = -1;
        if (numHits == 0 && numNewTokens > 0 && computed % BlockSize != 0 && computed / BlockSize < table.Count && table.Blocks[computed / BlockSize].RefCount > 1)
            cow = computed / BlockSize;
        if (needNew + hitsLeavingFreeQueue + (cow >= 0 ? 1 : 0) > Pool.NumFree) return false;
        if (cow >= 0)
        {
            var shared = table.Blocks[cow];
            var copy = Pool.AllocateOne();
            PendingCopies.Add(shared.Id);
            PendingCopies.Add(copy.Id);
            Interlocked.Increment(ref _numCopiedBlocks);
            table.Blocks[cow] = copy;
            Pool.Release(shared);
        }

        var blocks = table.Blocks;
        for (int i = 0; i < numHits; i++)
        {
            Pool.Touch(hits![i]);
            blocks.Add(hits[i]);
        }
        if (numHits > 0) table.NumRegistered = table.NumComputed = numHits;
        // Host-tier hits are busy first, so that the evictions below cannot drop them.
        for (int j = 0; j < numTier; j++) Tier!.Use(tierHits![j]);
        for (int i = 0; i < needNew; i++) blocks.Add(Pool.AllocateOne());
        for (int j = 0; j < numTier; j++)
        {
            int i = numHits + j;
            var b = blocks[i];
            PendingSwapIn.Add(_tierOffset + tierHits![j]);
            PendingSwapIn.Add(b.Id);
            // Registered and computed at once: the copy runs before any forward pass that could read it.
            if (Pool.Register(b, table.HashAt(i, knownTokens))) b.IsComputed = true;
        }
        if (numTier > 0)
        {
            table.NumRegistered = table.NumComputed = numHits + numTier;
            TierBlocksIn += numTier;
            TierHitTokens += numTier * BlockSize;
        }

        int fullAfterStep = Math.Min(total, knownTokens.Length) / BlockSize;
        for (int i = table.NumRegistered; i < fullAfterStep; i++) Pool.Register(blocks[i], table.HashAt(i, knownTokens));
        if (fullAfterStep > table.NumRegistered) table.NumRegistered = fullAfterStep;
        return true;
    }

    /// <summary>After the forward pass: marks the blocks that <paramref name="numComputedTokens"/> (the new total) fill as computed.</summary>
    public void CommitComputed(BlockTable table, int numComputedTokens)
    {
        int full = numComputedTokens / BlockSize;
        for (int i = table.NumComputed; i < full; i++)
        {
            var b = table.Blocks[i];
            // Only the registered owner's flag matters; a duplicate block was never registered.
            if (b.HasHash) b.IsComputed = true;
        }
        if (full > table.NumComputed) table.NumComputed = full;
    }

    /// <summary>
    /// Makes empty <paramref name="child"/> a fork of <paramref name="parent"/> (same tokens): it holds the same blocks
    /// by reference (each gets one more reference) and the same hashes. Nothing is copied now; a partially filled last
    /// block is copied when either table next writes into it (<see cref="AllocateSlots"/>).
    /// </summary>
    public void Fork(BlockTable parent, BlockTable child)
    {
        if (child.Count != 0) throw new InvalidOperationException($"{child} already holds blocks.");
        foreach (var b in parent.Blocks)
        {
            Pool.Touch(b);
            child.Blocks.Add(b);
        }
        child.CopyStateFrom(parent, withBlocks: true);
    }

    /// <summary>
    /// Returns every block of <paramref name="table"/>, last block first: the free queue evicts from its head, so a
    /// sequence's tail blocks go before its (likely shared) head.
    /// </summary>
    public void Free(BlockTable table)
    {
        var blocks = table.Blocks;
        for (int i = blocks.Count - 1; i >= 0; i--) Pool.Release(blocks[i]);
        blocks.Clear();
        table.NumRegistered = 0;
        table.NumComputed = 0;
    }
}
