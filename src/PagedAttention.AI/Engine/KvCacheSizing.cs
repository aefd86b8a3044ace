using PagedAttention.AI.Models;

namespace PagedAttention.AI.Engine;

/// <summary>
/// The CPU KV cache's default size when the host sets neither <see cref="EngineOptions.KvCacheBytes"/> nor
/// <see cref="EngineOptions.NumKvBlocks"/>: room for <see cref="EngineOptions.MaxNumSeqs"/> sequences of the full
/// length — what the scheduler may run at once, so nothing is preempted for want of blocks — at least one full-length
/// sequence, at most 1 GiB. A fixed 1 GiB gave a small model with a short context far more than it could use; the
/// cache's pages are taken from the OS untouched (CpuKvCache), so what is reserved costs memory only once written.
/// </summary>
internal static class KvCacheSizing
{
    /// <summary>The most the default takes: what every engine got before the default followed the model.</summary>
    public const long MaxDefaultBytes = 1L << 30;

    /// <summary>
    /// max(1, MaxNumSeqs) × MaxModelLen tokens (whole blocks) × <paramref name="bytesPerToken"/>, at most
    /// <see cref="MaxDefaultBytes"/>. MaxModelLen is <see cref="EngineOptions.MaxModelLen"/> or the model's limit.
    /// The cap wins over the full-length floor: for a model whose one full-length sequence exceeds 1 GiB the cache stays
    /// at 1 GiB, as before, and a longer request is refused with a message naming KvCacheBytes, instead of the default
    /// reserving tens of gigabytes.
    /// </summary>
    public static long CpuDefaultBytes(ModelConfig config, long bytesPerToken, EngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerToken);
        long maxModelLen = Math.Min(options.MaxModelLen ?? int.MaxValue, config.MaxPositionEmbeddings);
        // Whole blocks per sequence: a full-length sequence must still fit after BlocksFor rounds down.
        long blocksPerSeq = (maxModelLen + options.BlockSize - 1) / options.BlockSize;
        long blocks = Math.Max(1, options.MaxNumSeqs) * blocksPerSeq;
        // Compare in blocks so that huge MaxNumSeqs x MaxModelLen products cannot overflow.
        long bytesPerBlock = options.BlockSize * bytesPerToken;
        return blocks > MaxDefaultBytes / bytesPerBlock ? MaxDefaultBytes : blocks * bytesPerBlock;
    }
}
