namespace PagedAttention.AI.Scheduling;

/// <summary>How a preempted sequence gives back its blocks (internal: tests force one way).</summary>
internal enum PreemptionMode
{
    /// <summary>By cost: swap when copying its blocks out and back is cheaper than recomputing its tokens.</summary>
    Auto,

    /// <summary>Always swap while the swap space has room.</summary>
    Swap,

    /// <summary>Always recompute.</summary>
    Recompute,
}

/// <summary>
/// Chooses, per preempted sequence, between swapping its blocks to host memory and recomputing its tokens later: swap
/// when 2 × its bytes / the measured host↔device copy bandwidth (out now, back in later) is less than its computed
/// tokens / the measured prefill rate. Short sequences recompute, long ones swap. The engine feeds the measurements
/// (<see cref="ObserveCopy"/>, <see cref="ObservePrefill"/>); until a rate is measured, a conservative guess stands in.
/// Numbers only: it knows no tensors. Step-loop thread only (the measurements are read by metrics as plain doubles).
/// </summary>
internal sealed class PreemptionPolicy
{
    private double _bandwidth, _prefillRate;

    /// <param name="bytesPerBlock">Bytes of one KV block across all layers (K and V).</param>
    /// <param name="mode">Auto, or a forced choice.</param>
    /// <param name="guessBandwidth">Bytes/s assumed before a copy is measured.</param>
    /// <param name="guessPrefillRate">Tokens/s assumed before a prefill step is measured.</param>
    public PreemptionPolicy(long bytesPerBlock, PreemptionMode mode = PreemptionMode.Auto, double guessBandwidth = 4e9, double guessPrefillRate = 5e3)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerBlock);
        BytesPerBlock = bytesPerBlock;
        Mode = mode;
        _bandwidth = guessBandwidth;
        _prefillRate = guessPrefillRate;
    }

    public long BytesPerBlock { get; }

    public PreemptionMode Mode { get; }

    /// <summary>Host↔device copy bandwidth in bytes/s (measured once copies ran; a moving average).</summary>
    public double Bandwidth => _bandwidth;

    /// <summary>Prefill tokens per second of forward time (measured on steps of many tokens; a moving average).</summary>
    public double PrefillRate => _prefillRate;

    /// <summary>Whether a sequence of <paramref name="blocks"/> blocks and <paramref name="computedTokens"/> computed tokens should be swapped.</summary>
    public bool ShouldSwap(int blocks, int computedTokens) => Mode switch
    {
        PreemptionMode.Swap => true,
        PreemptionMode.Recompute => false,
        _ => 2.0 * blocks * BytesPerBlock / _bandwidth < computedTokens / _prefillRate,
    };

    /// <summary>A copy of <paramref name="bytes"/> took <paramref name="seconds"/>.</summary>
    public void ObserveCopy(long bytes, double seconds)
    {
        if (bytes < (1 << 16) || seconds <= 0) return; // too small to time
        double rate = bytes / seconds;
        _bandwidth = 0.7 * _bandwidth + 0.3 * rate;
    }

    /// <summary>A forward pass of <paramref name="tokens"/> tokens took <paramref name="seconds"/>.</summary>
    public void ObservePrefill(int tokens, double seconds)
    {
        if (tokens < 64 || seconds <= 0) return; // decode steps say little about prefill
        _prefillRate = 0.7 * _prefillRate + 0.3 * (tokens / seconds);
    }
}
