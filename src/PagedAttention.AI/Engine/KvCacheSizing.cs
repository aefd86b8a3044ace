using PagedAttention.AI.Models;

namespace PagedAttention.AI.Engine;

/// <summary>
/// The CPU KV cache's default size when the host sets neither <see cref="EngineOptions.KvCacheBytes"/> nor
/// <see cref="EngineOptions.NumKvBlocks"/>. A fixed 1 GiB made a 25 MB model take 1.1 GB of memory and four times its
/// load time (the cache is zeroed at load), so the size follows the model instead.
/// </summary>
internal static class KvCacheSizing
{
    /// <summary>Tokens budgeted per sequence slot: the scale of a chat turn. Longer sequences share the room and, when all run at once, preempt by recompute.</summary>
    public const int TokensPerSequence = 256;

    /// <summary>The most the default takes: what every engine got before the default followed the model.</summary>
    public const long MaxDefaultBytes = 1L << 30;

    /// <summary>
    /// max(MaxModelLen, MaxNumSeqs × <see cref="TokensPerSequence"/>) tokens × <paramref name="bytesPerToken"/>, at most
    /// <see cref="MaxDefaultBytes"/>. MaxModelLen is <see cref="EngineOptions.MaxModelLen"/> or the model's limit.
    /// The cap wins over the full-length floor: for a model whose one full-length sequence exceeds 1 GiB the cache stays
    /// at 1 GiB, as before, and a longer request is refused with a message naming KvCacheBytes, instead of the default
    /// allocating tens of gigabytes.
    /// </summary>
    public static long CpuDefaultBytes(ModelConfig config, long bytesPerToken, EngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerToken);
        long maxModelLen = Math.Min(options.MaxModelLen ?? int.MaxValue, config.MaxPositionEmbeddings);
        long tokens = Math.Max(maxModelLen, (long)options.MaxNumSeqs * TokensPerSequence);
        // Whole blocks: the floor must still hold a full-length sequence after BlocksFor rounds down.
        long blocks = (tokens + options.BlockSize - 1) / options.BlockSize;
        long bytes = blocks * options.BlockSize * bytesPerToken;
        return Math.Min(bytes, MaxDefaultBytes);
    }
}
