using PagedAttention.AI.KvCache;
using PagedAttention.AI.Scheduling;

namespace PagedAttention.AI.Engine;

/// <summary>
/// The step loop's side of <see cref="PrefixPin"/>s. A pin is computed by an ordinary one-token request for the prefix;
/// when that request's sequence finishes (its prompt's full blocks are computed and registered), its full blocks are
/// pinned before the sequence frees them: each gets a reference and a pin count (<see cref="BlockPool.Pin"/>), so it is
/// out of the free queue and never evicted. Unpinning drops both. Pins are refused beyond
/// <see cref="EngineOptions.MaxPinnedKvFraction"/> of the pool, and when they would leave a live sequence no room to fit.
/// </summary>
internal sealed class PrefixPins
{
    private readonly Scheduler<EngineSequence> _scheduler;
    private readonly double _maxFraction;
    private int _count;

    public PrefixPins(Scheduler<EngineSequence> scheduler, double maxFraction)
    {
        _scheduler = scheduler;
        _maxFraction = maxFraction;
        MaxPinnedBlocks = (int)Math.Floor(maxFraction * scheduler.Kv.Pool.NumBlocks);
    }

    /// <summary>Most blocks pins may hold together.</summary>
    public int MaxPinnedBlocks { get; }

    /// <summary>Pins holding blocks now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// Pins the full prompt blocks of <paramref name="seq"/> (the pin's request, finishing now, its prompt computed) for
    /// <paramref name="pin"/>, or fails the pin with <see cref="InvalidOperationException"/> naming the limit.
    /// </summary>
    public void Take(EngineSequence seq, PrefixPin pin)
    {
        var kv = _scheduler.Kv;
        var pool = kv.Pool;
        int full = Math.Min(seq.NumPromptTokens, seq.NumComputedTokens) / kv.BlockSize;
        var blocks = new List<KvBlock>(full);
        for (int i = 0; i < full; i++)
        {
            // The registered owner of each hash is what later lookups find (a duplicate block of this table is not).
            var b = pool.Lookup(seq.Table.HashAt(i, seq.KnownTokens));
            if (b is null || !b.IsComputed) break;
            blocks.Add(b);
        }
        int added = 0;
        foreach (var b in blocks) if (b.PinCount == 0) added++;
        int after = pool.NumPinned + added;
        if (after > MaxPinnedBlocks)
        {
            pin.Pinned.TrySetException(new InvalidOperationException(
                $"Pinning this prefix ({blocks.Count} KV blocks, {added} not pinned yet) would pin {after} of the {pool.NumBlocks} blocks, above EngineOptions.MaxPinnedKvFraction = {_maxFraction} ({MaxPinnedBlocks} blocks). Dispose other pins, pin a shorter prefix or raise MaxPinnedKvFraction (or the KV cache size)."));
            return;
        }
        int largest = 0;
        foreach (var s in _scheduler.Running) if (!ReferenceEquals(s, seq)) largest = Math.Max(largest, kv.BlocksFor(s.MaxTotalTokens));
        foreach (var s in _scheduler.Waiting) largest = Math.Max(largest, kv.BlocksFor(s.MaxTotalTokens));
        if (pool.NumBlocks - after < largest)
        {
            pin.Pinned.TrySetException(new InvalidOperationException(
                $"Pinning this prefix would leave {pool.NumBlocks - after} unpinned KV blocks, fewer than the {largest} a queued request may need. Pin a shorter prefix or raise the KV cache size."));
            return;
        }
        var taken = blocks.ToArray();
        foreach (var b in taken) pool.Pin(b);
        _count++;
        pin.SetPinned(taken, kv.BlockSize);
    }

    /// <summary>Releases <paramref name="pin"/>'s blocks (if it holds any) and completes its release.</summary>
    public void Release(PrefixPin pin)
    {
        if (pin.TakeBlocks() is { } blocks)
        {
            var pool = _scheduler.Kv.Pool;
            // Last block first, as a sequence is freed: the preamble's head is evicted last.
            for (int i = blocks.Length - 1; i >= 0; i--) pool.Unpin(blocks[i]);
            _count--;
        }
        pin.Released.TrySetResult();
    }
}
