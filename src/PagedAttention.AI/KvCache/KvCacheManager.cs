using PagedAttention.AI.Scheduling;

namespace PagedAttention.AI.KvCache;

/// <summary>
/// Per-sequence view of the <see cref="BlockPool"/>, after vLLM v1's KVCacheManager: find the cached prefix of a
/// sequence, allocate slots for the tokens a step will compute, register blocks that will be full after the
/// step, mark them computed after the forward pass, and free a sequence's blocks tail-first.
/// </summary>
internal sealed class KvCacheManager
{
    public KvCacheManager(int numBlocks, int blockSize)
    {
        Pool = new BlockPool(numBlocks, blockSize);
        BlockSize = blockSize;
    }

    public BlockPool Pool { get; }

    public int BlockSize { get; }

    /// <summary>Prompt tokens looked up in the prefix cache (one lookup per admission).</summary>
    public long PrefixQueryTokens { get; private set; }

    /// <summary>Of those, tokens found cached.</summary>
    public long PrefixHitTokens { get; private set; }

    /// <summary>Blocks needed to hold <paramref name="numTokens"/> tokens.</summary>
    public int BlocksFor(int numTokens) => (numTokens + BlockSize - 1) / BlockSize;

    /// <summary>
    /// Longest run of computed cached full blocks at the start of <paramref name="seq"/> (a sequence without blocks).
    /// At least one token is always left to compute, since the step must produce logits. Sets
    /// <paramref name="pending"/> when the first missing block is being computed by another sequence right now:
    /// the caller should wait a step instead of computing the same prefix twice.
    /// </summary>
    public int FindCachedPrefix(Sequence seq, List<KvBlock> hits, out bool pending)
    {
        if (seq.Blocks.Count != 0) throw new InvalidOperationException($"{seq} already holds blocks.");
        hits.Clear();
        pending = false;
        int maxBlocks = (seq.NumTokens - 1) / BlockSize;
        for (int i = 0; i < maxBlocks; i++)
        {
            var b = Pool.Lookup(seq.BlockHashAt(i));
            if (b is null) break;
            if (!b.IsComputed)
            {
                pending = true;
                break;
            }
            hits.Add(b);
        }
        return hits.Count * BlockSize;
    }

    /// <summary>Counts one admission lookup in the hit-rate counters.</summary>
    public void RecordLookup(int queriedTokens, int hitTokens)
    {
        PrefixQueryTokens += queriedTokens;
        PrefixHitTokens += hitTokens;
    }

    /// <summary>
    /// Takes the cached <paramref name="hits"/> (if any, only at admission) and allocates blocks so that
    /// <paramref name="numNewTokens"/> more tokens fit. Returns false, changing nothing, when the pool is short.
    /// Blocks that will be full after this step are registered in the prefix cache now (as pending) so that
    /// identical prefixes arriving meanwhile wait for them rather than compute them again.
    /// </summary>
    public bool AllocateSlots(Sequence seq, int numNewTokens, List<KvBlock>? hits = null)
    {
        int numHits = hits?.Count ?? 0;
        if (numHits > 0 && seq.Blocks.Count != 0) throw new InvalidOperationException("Prefix hits are only taken at admission.");
        int computed = seq.NumComputedTokens + numHits * BlockSize;
        int total = computed + numNewTokens;
        if (total > seq.NumTokens) throw new ArgumentOutOfRangeException(nameof(numNewTokens), "Cannot compute tokens that are not known yet.");
        int needNew = BlocksFor(total) - seq.Blocks.Count - numHits;
        int hitsLeavingFreeQueue = 0;
        for (int i = 0; i < numHits; i++) if (hits![i].RefCount == 0) hitsLeavingFreeQueue++;
        if (needNew + hitsLeavingFreeQueue > Pool.NumFree) return false;

        for (int i = 0; i < numHits; i++)
        {
            Pool.Touch(hits![i]);
            seq.Blocks.Add(hits[i]);
        }
        if (numHits > 0)
        {
            seq.NumComputedTokens = computed;
            seq.NumRegisteredBlocks = seq.NumComputedBlocks = numHits;
        }
        for (int i = 0; i < needNew; i++) seq.Blocks.Add(Pool.AllocateOne());

        // A block holding a placeholder (the token of the step in flight) is registered by a later call, once known.
        int fullAfterStep = Math.Min(total, seq.NumKnownTokens) / BlockSize;
        for (int i = seq.NumRegisteredBlocks; i < fullAfterStep; i++) Pool.Register(seq.Blocks[i], seq.BlockHashAt(i));
        if (fullAfterStep > seq.NumRegisteredBlocks) seq.NumRegisteredBlocks = fullAfterStep;
        return true;
    }

    /// <summary>After the forward pass: advances the sequence and marks its newly full blocks computed.</summary>
    public void CommitComputed(Sequence seq, int numNewTokens)
    {
        seq.NumComputedTokens += numNewTokens;
        int full = seq.NumComputedTokens / BlockSize;
        for (int i = seq.NumComputedBlocks; i < full; i++)
        {
            var b = seq.Blocks[i];
            // Only the registered owner's flag matters; a duplicate block was never registered.
            if (b.HasHash) b.IsComputed = true;
        }
        if (full > seq.NumComputedBlocks) seq.NumComputedBlocks = full;
    }

    /// <summary>
    /// Returns every block of <paramref name="seq"/>, last block first: the free queue evicts from its head, so a
    /// request's tail blocks go before its (likely shared) head.
    /// </summary>
    public void Free(Sequence seq)
    {
        var blocks = seq.Blocks;
        for (int i = blocks.Count - 1; i >= 0; i--) Pool.Release(blocks[i]);
        blocks.Clear();
        seq.NumComputedTokens = 0;
        seq.NumRegisteredBlocks = 0;
        seq.NumComputedBlocks = 0;
    }
}
