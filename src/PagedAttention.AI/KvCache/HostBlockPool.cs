namespace PagedAttention.AI.KvCache;

/// <summary>
/// The host-memory blocks of the swap space: ids into the runner's host region, handed out and taken back as a stack
/// (no hashing, no sharing: a swapped-out sequence owns its host blocks until it is swapped in or ends). Step-loop only.
/// </summary>
internal sealed class HostBlockPool
{
    private readonly int[] _free;
    private readonly bool[] _used;
    private int _numFree;

    public HostBlockPool(int numBlocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        NumBlocks = numBlocks;
        _free = new int[numBlocks];
        _used = new bool[numBlocks];
        for (int i = 0; i < numBlocks; i++) _free[i] = numBlocks - 1 - i;
        _numFree = numBlocks;
    }

    /// <summary>Host blocks in the swap space.</summary>
    public int NumBlocks { get; }

    /// <summary>Host blocks not holding a swapped-out block.</summary>
    public int NumFree => Volatile.Read(ref _numFree);

    public int Allocate()
    {
        if (_numFree == 0) throw new InvalidOperationException("No free host blocks.");
        int id = _free[--_numFree];
        _used[id] = true;
        return id;
    }

    public void Free(int id)
    {
        if ((uint)id >= (uint)NumBlocks || !_used[id]) throw new InvalidOperationException($"Host block {id} is not in use.");
        _used[id] = false;
        _free[_numFree++] = id;
    }

    /// <summary>Host blocks in use (for the invariant check).</summary>
    internal int NumUsed() => _used.Count(u => u);
}
