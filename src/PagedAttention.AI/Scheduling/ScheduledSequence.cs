using PagedAttention.AI.KvCache;
using PagedAttention.AI.Requests;

namespace PagedAttention.AI.Scheduling;

/// <summary>
/// A <see cref="Sequence"/> as the scheduler holds it: with its <see cref="BlockTable"/>. The scheduler is the only
/// writer of the table (through <see cref="KvCacheManager"/>) and of the sequence's status and computed tokens.
/// </summary>
internal class ScheduledSequence : Sequence
{
    public ScheduledSequence(long requestId, int index, ReadOnlySpan<int> prompt, int maxTotalTokens, BlockHash rootHash, int blockSize)
        : base(requestId, index, prompt, maxTotalTokens)
    {
        Table = new BlockTable(rootHash, maxTotalTokens, blockSize);
    }

    /// <summary>The sequence's blocks (empty while waiting or finished).</summary>
    public BlockTable Table { get; }

    /// <summary>The block table's blocks, in position order.</summary>
    public IReadOnlyList<KvBlock> Blocks => Table.Blocks;
}
