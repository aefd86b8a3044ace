using System.Numerics;
using System.Runtime.CompilerServices;

namespace PagedAttention.Text.Tokenization;

/// <summary>
/// Read-only open-addressing map from a token pair (left id, right id) to (rank, merged id), for the BPE merge loop.
/// <c>Dictionary&lt;long, _&gt;</c> hashes a long as <c>lo ^ hi</c>, i.e. <c>left ^ right</c>: every (x, x) pair lands in
/// one bucket (570 of Gemma 3's merges), and pairs of small ids crowd a small range, so lookups walked long chains.
/// Here the key is mixed with a Fibonacci multiply and probed linearly in a power-of-two table at most half full.
/// </summary>
internal sealed class PairMap
{
    private struct Entry
    {
        public ulong Key;   // (left << 32 | right) + 1; 0 = empty
        public long Value;  // rank << 32 | mergedId
    }

    private readonly Entry[] _entries; // key and value side by side: one cache miss per probe
    private readonly int _shift;
    private readonly int _mask;

    public PairMap(int capacity)
    {
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, capacity * 2));
        _entries = new Entry[size];
        _mask = size - 1;
        _shift = 64 - BitOperations.Log2((uint)size);
    }

    public int Count { get; private set; }

    /// <summary>Adds the pair unless present (the first, lowest-rank merge of a pair wins, as in Rust).</summary>
    public bool TryAdd(int left, int right, int rank, int mergedId)
    {
        ulong key = Key(left, right);
        int i = Slot(key);
        while (_entries[i].Key != 0)
        {
            if (_entries[i].Key == key) return false;
            i = (i + 1) & _mask;
        }
        if ((Count + 1) * 2 > _entries.Length) throw new InvalidOperationException("PairMap is full.");
        _entries[i].Key = key;
        _entries[i].Value = ((long)rank << 32) | (uint)mergedId;
        Count++;
        return true;
    }

    /// <summary>The merge of (left, right) as rank &lt;&lt; 32 | mergedId, or -1 when the pair has no merge.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Get(int left, int right)
    {
        ulong key = Key(left, right);
        Entry[] entries = _entries;
        int i = Slot(key);
        while (true)
        {
            ref Entry e = ref entries[i];
            ulong k = e.Key;
            if (k == key) return e.Value;
            if (k == 0) return -1;
            i = (i + 1) & _mask;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Key(int left, int right) => (((ulong)(uint)left << 32) | (uint)right) + 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);
}
