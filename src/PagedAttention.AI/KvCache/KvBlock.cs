namespace PagedAttention.AI.KvCache;

/// <summary>
/// One preallocated KV block. Its links make it a node of the free queue itself (intrusive list), so taking a
/// cached block out of the middle of the queue on a prefix hit is O(1) and allocation-free.
/// </summary>
internal sealed class KvBlock
{
    public KvBlock(int id) => Id = id;

    /// <summary>Index of the block in the device KV cache.</summary>
    public int Id { get; }

    /// <summary>Number of sequences whose block table holds this block.</summary>
    public int RefCount { get; internal set; }

    /// <summary>True while this block is registered in the prefix cache under <see cref="Hash"/>.</summary>
    public bool HasHash { get; internal set; }

    /// <summary>The prefix-cache key; meaningful only when <see cref="HasHash"/>.</summary>
    public BlockHash Hash { get; internal set; }

    /// <summary>
    /// True once the forward pass has written KV for all of its tokens. A registered block that is not computed yet
    /// is "pending": another request with the same prefix waits for it instead of computing it a second time.
    /// </summary>
    public bool IsComputed { get; internal set; }

    /// <summary>
    /// Pins holding this block (each also holds one of its references): a pinned block is never in the free queue,
    /// so it is never evicted, until the last pin goes.
    /// </summary>
    public int PinCount { get; internal set; }

    internal KvBlock? PrevFree;
    internal KvBlock? NextFree;

    /// <inheritdoc />
    public override string ToString() => $"Block({Id}, ref={RefCount}{(PinCount > 0 ? $", pinned={PinCount}" : "")}{(HasHash ? ", cached" : "")})";
}
