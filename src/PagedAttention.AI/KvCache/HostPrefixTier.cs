namespace PagedAttention.AI.KvCache;

/// <summary>
/// The host-memory tier of the prefix cache: full computed blocks evicted from the device pool are copied to host
/// blocks (keyed by the same <see cref="BlockHash"/>, salts included, so tenants never share across tiers either), LRU
/// bounded by its block count; a later prefix lookup that misses on the device finds them here and the block is copied
/// back instead of recomputed. Entries used by a pending copy are busy (never dropped) until the copies ran.
/// Allocation-free after construction; step-loop only.
/// </summary>
internal sealed class HostPrefixTier
{
    private readonly Dictionary<BlockHash, int> _map;
    private readonly BlockHash[] _hash;
    private readonly bool[] _used, _busy;
    private readonly int[] _prev, _next; // LRU list over host ids: _head = least recently used
    private readonly List<int> _busyIds = new(64);
    private readonly Stack<int> _free;
    private int _head = -1, _tail = -1;

    public HostPrefixTier(int numBlocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        NumBlocks = numBlocks;
        _map = new Dictionary<BlockHash, int>(numBlocks);
        _hash = new BlockHash[numBlocks];
        _used = new bool[numBlocks];
        _busy = new bool[numBlocks];
        _prev = new int[numBlocks];
        _next = new int[numBlocks];
        Array.Fill(_prev, -1);
        Array.Fill(_next, -1);
        _free = new Stack<int>(Enumerable.Range(0, numBlocks).Reverse());
    }

    public int NumBlocks { get; }

    /// <summary>Blocks held.</summary>
    public int Count => _map.Count;

    /// <summary>The host block holding <paramref name="hash"/>, or -1.</summary>
    public int Find(in BlockHash hash) => _map.TryGetValue(hash, out int id) ? id : -1;

    /// <summary>Marks <paramref name="id"/> most recently used and busy until <see cref="CopiesDone"/> (a copy reads it).</summary>
    public void Use(int id)
    {
        Touch(id);
        if (!_busy[id]) { _busy[id] = true; _busyIds.Add(id); }
    }

    /// <summary>
    /// A device block with <paramref name="hash"/> is being evicted: the host block to copy it into (busy until the
    /// copies ran), or -1 when the tier already holds it (touched) or every block is busy.
    /// </summary>
    public int Offer(in BlockHash hash)
    {
        if (_map.TryGetValue(hash, out int have)) { Touch(have); return -1; }
        int id;
        if (_free.Count > 0) id = _free.Pop();
        else
        {
            id = _head;
            while (id >= 0 && _busy[id]) id = _next[id];
            if (id < 0) return -1;
            Unlink(id);
            _map.Remove(_hash[id]);
        }
        _hash[id] = hash;
        _used[id] = true;
        _map[hash] = id;
        LinkTail(id);
        Use(id);
        return id;
    }

    public void CopiesDone()
    {
        foreach (int id in _busyIds) _busy[id] = false;
        _busyIds.Clear();
    }

    /// <summary>
    /// Verifies the tier's bookkeeping: the map and the held blocks agree both ways, the free stack holds exactly the
    /// other blocks once each, the LRU list runs over exactly the held blocks with consistent links, and the busy
    /// blocks are held and listed once. Throws <see cref="InvalidOperationException"/>. Allocates; tests and debug runs.
    /// </summary>
    internal void CheckInvariants()
    {
        int held = 0;
        for (int id = 0; id < NumBlocks; id++)
        {
            if (!_used[id]) { if (_busy[id]) throw new InvalidOperationException($"Host tier block {id} is busy but holds nothing."); continue; }
            held++;
            if (!_map.TryGetValue(_hash[id], out int mapped) || mapped != id) throw new InvalidOperationException($"Host tier block {id} is held but its hash maps to {(mapped == id ? "nothing" : mapped.ToString(System.Globalization.CultureInfo.InvariantCulture))}.");
        }
        if (held != _map.Count) throw new InvalidOperationException($"The host tier maps {_map.Count} hashes but holds {held} blocks.");
        var seen = new bool[NumBlocks];
        foreach (int id in _free)
        {
            if ((uint)id >= (uint)NumBlocks || seen[id]) throw new InvalidOperationException($"Host tier block {id} is on the free stack twice or is out of range.");
            if (_used[id]) throw new InvalidOperationException($"Host tier block {id} is free and held.");
            seen[id] = true;
        }
        if (_free.Count + held != NumBlocks) throw new InvalidOperationException($"{_free.Count} free + {held} held host tier blocks != {NumBlocks}.");
        Array.Clear(seen);
        int count = 0, prev = -1;
        for (int id = _head; id >= 0; prev = id, id = _next[id])
        {
            if (seen[id] || !_used[id]) throw new InvalidOperationException($"Host tier block {id} is on the LRU list twice or holds nothing.");
            if (_prev[id] != prev) throw new InvalidOperationException($"Host tier block {id}'s LRU back link is {_prev[id]}, not {prev}.");
            seen[id] = true;
            count++;
        }
        if (prev != _tail || count != held) throw new InvalidOperationException($"The host tier's LRU list has {count} blocks ending at {prev} (tail {_tail}); {held} are held.");
        Array.Clear(seen);
        foreach (int id in _busyIds)
        {
            if (seen[id] || !_busy[id]) throw new InvalidOperationException($"Host tier block {id} is listed busy twice or is not busy.");
            seen[id] = true;
        }
        for (int id = 0; id < NumBlocks; id++)
            if (_busy[id] && !seen[id]) throw new InvalidOperationException($"Host tier block {id} is busy but not listed.");
    }

    private void Touch(int id)
    {
        Unlink(id);
        LinkTail(id);
    }

    private void Unlink(int id)
    {
        int p = _prev[id], n = _next[id];
        bool linked = p >= 0 || n >= 0 || _head == id;
        if (!linked) return;
        if (p >= 0) _next[p] = n; else _head = n;
        if (n >= 0) _prev[n] = p; else _tail = p;
        _prev[id] = _next[id] = -1;
    }

    private void LinkTail(int id)
    {
        _prev[id] = _tail;
        _next[id] = -1;
        if (_tail >= 0) _next[_tail] = id; else _head = id;
        _tail = id;
    }
}
