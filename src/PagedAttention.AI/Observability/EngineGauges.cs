namespace PagedAttention.AI.Observability;

/// <summary>What the observable instruments read from one engine (a snapshot, values may be a step apart).</summary>
internal readonly record struct EngineGauges(
    int Running, int Waiting, double KvCacheUsage, long PrefixQueryTokens, long PrefixHitTokens, long Preemptions,
    long PromptTokens, long GenerationTokens, long ComputedTokens);
