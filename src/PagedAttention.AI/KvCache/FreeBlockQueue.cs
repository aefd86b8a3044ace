namespace PagedAttention.AI.KvCache;

/// <summary>
/// Doubly linked LRU queue of free blocks threaded through the blocks themselves. The head is evicted first;
/// freed blocks go to the tail. Every operation is O(1) and allocates nothing.
/// </summary>
internal sealed class FreeBlockQueue
{
    private readonly KvBlock _head = new(-1);
    private readonly KvBlock _tail = new(-2);

    /// <summary>Builds the queue holding <paramref name="blocks"/> in order.</summary>
    public FreeBlockQueue(IReadOnlyList<KvBlock> blocks)
    {
        _head.NextFree = _tail;
        _tail.PrevFree = _head;
        foreach (var b in blocks) Append(b);
    }

    /// <summary>Number of blocks in the queue.</summary>
    public int Count { get; private set; }

    /// <summary>True when <paramref name="block"/> is linked in this queue.</summary>
    public static bool Contains(KvBlock block) => block.PrevFree is not null;

    /// <summary>Removes and returns the least recently freed block.</summary>
    public KvBlock PopFront()
    {
        var b = _head.NextFree!;
        if (ReferenceEquals(b, _tail)) throw new InvalidOperationException("No free KV blocks.");
        Remove(b);
        return b;
    }

    /// <summary>Unlinks <paramref name="block"/> from anywhere in the queue.</summary>
    public void Remove(KvBlock block)
    {
        if (block.PrevFree is null || block.NextFree is null) throw new InvalidOperationException($"{block} is not in the free queue.");
        block.PrevFree.NextFree = block.NextFree;
        block.NextFree.PrevFree = block.PrevFree;
        block.PrevFree = null;
        block.NextFree = null;
        Count--;
    }

    /// <summary>Links <paramref name="block"/> at the tail (evicted last).</summary>
    public void Append(KvBlock block)
    {
        if (block.PrevFree is not null) throw new InvalidOperationException($"{block} is already in the free queue.");
        var last = _tail.PrevFree!;
        last.NextFree = block;
        block.PrevFree = last;
        block.NextFree = _tail;
        _tail.PrevFree = block;
        Count++;
    }

    /// <summary>Block ids from head to tail (for tests and diagnostics; allocates).</summary>
    public List<int> ToIdList()
    {
        var ids = new List<int>(Count);
        for (var b = _head.NextFree!; !ReferenceEquals(b, _tail); b = b.NextFree!) ids.Add(b.Id);
        return ids;
    }
}
