namespace PagedAttention.AI.Scheduling;

/// <summary>Per-step limits of the <c>Scheduler</c>.</summary>
internal sealed class SchedulerOptions
{
    /// <summary>Token budget of one step (prefill chunks + decodes).</summary>
    public int MaxNumBatchedTokens { get; init; } = 2048;

    /// <summary>Most sequences running at once.</summary>
    public int MaxNumSeqs { get; init; } = 64;

    /// <summary>Most tokens one prefill may take in a step, so long prompts leave room for decodes; 0 = no cap.</summary>
    public int LongPrefillTokenThreshold { get; init; }

    /// <summary>Name of the user-facing option that sizes the KV cache, quoted in the preemption warning.</summary>
    public string KvCacheOptionName { get; init; } = "EngineOptions.NumKvBlocks";

    /// <summary>Swap or recompute per preempted sequence; null: recompute always (no swap space).</summary>
    public PreemptionPolicy? Preemption { get; init; }

    /// <summary>Name of the user-facing option that sizes the swap space, quoted when it is full.</summary>
    public string SwapOptionName { get; init; } = "EngineOptions.SwapSpaceBytes";

    public void Validate()
    {
        if (MaxNumBatchedTokens < 1) throw new ArgumentException("MaxNumBatchedTokens must be >= 1.", nameof(MaxNumBatchedTokens));
        if (MaxNumSeqs < 1) throw new ArgumentException("MaxNumSeqs must be >= 1.", nameof(MaxNumSeqs));
        if (LongPrefillTokenThreshold < 0) throw new ArgumentException("LongPrefillTokenThreshold must be >= 0.", nameof(LongPrefillTokenThreshold));
    }
}
