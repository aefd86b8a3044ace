namespace PagedAttention.AI.Engine;

/// <summary>A snapshot of an <see cref="LlmEngine"/>'s load and counters since it started.</summary>
public sealed record EngineMetrics
{
    /// <summary>Sequences holding KV blocks and advancing.</summary>
    public int Running { get; init; }

    /// <summary>Sequences queued (new or preempted).</summary>
    public int Waiting { get; init; }

    /// <summary>KV blocks in the cache.</summary>
    public int KvBlocksTotal { get; init; }

    /// <summary>KV blocks referenced by sequences.</summary>
    public int KvBlocksUsed => KvBlocksTotal - KvBlocksFree;

    /// <summary>KV blocks with no reference (some still hold reusable prefixes).</summary>
    public int KvBlocksFree { get; init; }

    /// <summary>Blocks registered in the prefix cache.</summary>
    public int KvBlocksCached { get; init; }

    /// <summary>KV blocks held by pinned prefixes (<see cref="LlmEngine.PinPrefixAsync"/>); never evicted while pinned.</summary>
    public int KvBlocksPinned { get; init; }

    /// <summary>Pinned prefixes held now.</summary>
    public int PinnedPrefixes { get; init; }

    /// <summary>KV blocks copied on write (a beam writing into a partially filled block it shares with another beam).</summary>
    public long KvBlocksCopied { get; init; }

    /// <summary>Prompt tokens looked up in the prefix cache.</summary>
    public long PrefixQueryTokens { get; init; }

    /// <summary>Prompt tokens served from the prefix cache.</summary>
    public long PrefixHitTokens { get; init; }

    /// <summary><see cref="PrefixHitTokens"/> / <see cref="PrefixQueryTokens"/> (0 before any lookup).</summary>
    public double PrefixHitRate => PrefixQueryTokens == 0 ? 0 : (double)PrefixHitTokens / PrefixQueryTokens;

    /// <summary>Sequences preempted (and later recomputed) because KV blocks ran out.</summary>
    public long Preemptions { get; init; }

    /// <summary>Of <see cref="Preemptions"/>, those by recompute (the others swapped: <see cref="SwapOuts"/>).</summary>
    public long RecomputePreemptions { get; init; }

    /// <summary>Sequences swapped out to host memory (<see cref="EngineOptions.SwapSpaceBytes"/>) / swapped back in.</summary>
    public long SwapOuts { get; init; }

    /// <inheritdoc cref="SwapOuts"/>
    public long SwapIns { get; init; }

    /// <summary>Sequences swapped out now (counted in <see cref="Waiting"/> too).</summary>
    public int Swapped { get; init; }

    /// <summary>Bytes copied to / from the swap space.</summary>
    public long SwapBytesOut { get; init; }

    /// <inheritdoc cref="SwapBytesOut"/>
    public long SwapBytesIn { get; init; }

    /// <summary>
    /// Seconds the swap copies took (the host tier's included). On the CPU, the time doing them; on CUDA, their device
    /// time, measured by events around each batch on the copy stream and counted once the batch has finished (the copies
    /// of the step in flight come in after it).
    /// </summary>
    public double SwapSeconds { get; init; }

    /// <summary>
    /// Seconds the step loop spent issuing swap copies: on the CPU, doing them (= <see cref="SwapSeconds"/>); on CUDA,
    /// queueing them (two cuMemcpyAsync per layer per block, or one kernel launch per batch).
    /// </summary>
    public double SwapIssueSeconds { get; init; }

    /// <summary>Blocks held by the prefix cache's host tier (<see cref="EngineOptions.HostCacheBytes"/>).</summary>
    public int HostTierBlocks { get; init; }

    /// <summary>Prompt tokens served from the host tier (copied back to the KV cache instead of recomputed).</summary>
    public long HostTierHitTokens { get; init; }

    /// <summary>Blocks copied to the host tier on eviction / back from it on a hit (also counted in the swap bytes).</summary>
    public long HostTierBlocksOut { get; init; }

    /// <inheritdoc cref="HostTierBlocksOut"/>
    public long HostTierBlocksIn { get; init; }

    /// <summary>Host blocks of the swap space, and of those free.</summary>
    public int HostBlocksTotal { get; init; }

    /// <inheritdoc cref="HostBlocksTotal"/>
    public int HostBlocksFree { get; init; }

    /// <summary>Engine steps run.</summary>
    public long Steps { get; init; }

    /// <summary>Tokens fed through the model (prompt chunks, recomputation and decodes).</summary>
    public long ComputedTokens { get; init; }

    /// <summary>Tokens generated.</summary>
    public long GeneratedTokens { get; init; }

    /// <summary>Seconds the step loop spent running steps (scheduling, forward passes, sampling, emitting tokens).</summary>
    public double BusySeconds { get; init; }

    /// <summary>
    /// Seconds of <see cref="BusySeconds"/> spent inside the model runner's forward call (on a GPU: staging, launches
    /// and the wait for the step's results). The rest is host work between forward passes, during which the GPU idles.
    /// </summary>
    public double ForwardSeconds { get; init; }

    /// <summary>Generated tokens per second of step-loop busy time.</summary>
    public double GeneratedTokensPerSecond { get; init; }

    /// <summary>Log calls the host's <c>ILogger</c> threw on (swallowed: a broken logger never fails the engine).</summary>
    public long DroppedLogCalls { get; init; }
}
