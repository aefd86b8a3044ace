namespace PagedAttention.Kernels.Cuda;

/// <summary>The event calls <see cref="SwapCopyTimer"/> makes: CUDA events on the swap space's copy stream (tests fake them).</summary>
internal interface ICopyEvents
{
    /// <summary>A new event that can be timed.</summary>
    nint Create();

    /// <summary>Records <paramref name="e"/> on the copy stream, after what is queued there.</summary>
    void Record(nint e);

    /// <summary>Whether the work queued before <paramref name="e"/>'s last record has run. Never waits.</summary>
    bool HasCompleted(nint e);

    /// <summary>Milliseconds between two completed events.</summary>
    float ElapsedMilliseconds(nint start, nint end);

    /// <summary>Frees <paramref name="e"/>.</summary>
    void Destroy(nint e);
}

/// <summary>
/// The device time of swap copy batches. Each batch is bracketed by a (start, end) pair of events recorded on the copy
/// stream: <see cref="Begin"/> after the batch's wait on the compute stream (so the wait is not counted),
/// <see cref="End"/> after its last copy or launch. A pair is read once its end event has completed, found by
/// <see cref="Poll"/> (which never waits), and is then reused. Batches run in order on one stream, so they complete in
/// order and their durations add up. A batch counts only once polled: <see cref="Seconds"/> leaves out the copies still
/// in flight. Begin, End, Poll and Dispose: step-loop thread only; <see cref="Seconds"/> and <see cref="Batches"/>: any
/// thread.
/// </summary>
internal sealed class SwapCopyTimer(ICopyEvents events) : IDisposable
{
    private readonly Queue<(nint Start, nint End)> _pending = new();
    private readonly Stack<(nint Start, nint End)> _free = new();
    private (nint Start, nint End)? _open;
    private long _nanoseconds, _batches;
    private bool _disposed;

    /// <summary>Device seconds of the batches polled so far.</summary>
    public double Seconds => Interlocked.Read(ref _nanoseconds) / 1e9;

    /// <summary>Batches timed so far (polled).</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Batches ended but not yet polled as completed.</summary>
    public int Pending => _pending.Count;

    /// <summary>
    /// Starts a batch: records its start event. A batch begun again before <see cref="End"/> (the copies of the last one
    /// failed) starts over on the same pair; the abandoned one is not counted.
    /// </summary>
    public void Begin()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var pair = _open ?? Take();
        _open = pair;
        events.Record(pair.Start);
    }

    /// <summary>Ends the batch <see cref="Begin"/> started: records its end event; <see cref="Poll"/> reads it once it has run.</summary>
    public void End()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_open is not { } pair) throw new InvalidOperationException("End without Begin.");
        events.Record(pair.End);
        _pending.Enqueue(pair);
        _open = null;
    }

    /// <summary>Adds the batches whose end event has completed, oldest first, and stops at the first still running; returns how many.</summary>
    public int Poll()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = 0;
        while (_pending.TryPeek(out var pair) && events.HasCompleted(pair.End))
        {
            _pending.Dequeue();
            _free.Push(pair); // before the read: a failed read does not lose the pair
            float ms = events.ElapsedMilliseconds(pair.Start, pair.End);
            Interlocked.Add(ref _nanoseconds, (long)Math.Round(Math.Max(0, ms) * 1e6));
            Interlocked.Increment(ref _batches);
            n++;
        }
        return n;
    }

    private (nint Start, nint End) Take()
    {
        if (_free.TryPop(out var pair)) return pair;
        nint start = events.Create();
        try
        {
            return (start, events.Create());
        }
        catch
        {
            events.Destroy(start);
            throw;
        }
    }

    /// <summary>Frees every event (the copy stream must have finished with them: synchronize it first).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        var all = _pending.Concat(_free).ToList();
        if (_open is { } open) all.Add(open);
        foreach (var (start, end) in all)
        {
            events.Destroy(start);
            events.Destroy(end);
        }
        _pending.Clear();
        _free.Clear();
        _open = null;
    }
}
