using System.Globalization;
using PagedAttention.AI.Models;

namespace PagedAttention.AI.Engine;

/// <summary>
/// Checks, before anything is allocated, that the host buffers an engine sizes from its options fit: each array within
/// .NET's array length limit, and all of them together within the memory available to the process (the GC's view:
/// physical memory or the container's limit). The CPU KV cache, the logits rows (MaxNumSeqs × vocab), the flat batch
/// and block tables (MaxNumBatchedTokens, MaxNumSeqs × blocks per sequence), the CPU activations (MaxNumBatchedTokens
/// × the model's widths, allocated at the first step) and the block pool are counted. A request for more is an
/// <see cref="ArgumentException"/> naming the option that asks for the most, not an OutOfMemoryException later.
/// </summary>
internal static class HostMemoryBudget
{
    // A KvBlock object, its free-queue links and its share of the prefix-cache dictionary.
    private const long BytesPerPoolBlock = 96;

    /// <summary>Memory the process may use.</summary>
    public static long AvailableBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>Throws <see cref="ArgumentException"/> when the buffers do not fit in <paramref name="availableBytes"/>.</summary>
    /// <param name="options">The engine's options (validated).</param>
    /// <param name="config">The model's config.</param>
    /// <param name="numKvBlocks">KV blocks the cache will have.</param>
    /// <param name="kvBytesPerBlock">Host bytes of one KV block (0 when the cache lives on a device).</param>
    /// <param name="cpuActivations">The CPU forward pass's activation buffers count too.</param>
    /// <param name="availableBytes">The budget.</param>
    public static void Check(EngineOptions options, ModelConfig config, int numKvBlocks, long kvBytesPerBlock, bool cpuActivations, long availableBytes)
    {
        int seqs = options.MaxNumSeqs, tokens = options.MaxNumBatchedTokens;
        long maxLen = Math.Min(options.MaxModelLen ?? int.MaxValue, config.MaxPositionEmbeddings);
        long blocksPerSeq = Math.Min((maxLen + options.BlockSize - 1) / options.BlockSize, numKvBlocks);
        string kvOption = options.NumKvBlocks is null ? nameof(EngineOptions.KvCacheBytes) : nameof(EngineOptions.NumKvBlocks);

        CheckArray(nameof(EngineOptions.MaxNumSeqs), seqs, (long)seqs * config.VocabSize, $"logits rows of MaxNumSeqs {seqs} × vocab_size {config.VocabSize}");
        CheckArray(nameof(EngineOptions.MaxNumSeqs), seqs, seqs * blocksPerSeq, $"block tables of MaxNumSeqs {seqs} × {blocksPerSeq} blocks per sequence (MaxModelLen {maxLen} / BlockSize {options.BlockSize})");
        long activationRows = Math.Max(tokens, seqs);
        int widest = Math.Max(Math.Max(config.HiddenSize, config.IntermediateSize), config.NumHeads * config.HeadDim);
        if (cpuActivations)
            CheckArray(nameof(EngineOptions.MaxNumBatchedTokens), tokens, activationRows * widest, $"activations of MaxNumBatchedTokens {tokens} × width {widest}");

        var parts = new List<(string Option, long Value, long Bytes, string What)>
        {
            (kvOption, kvOption == nameof(EngineOptions.NumKvBlocks) ? numKvBlocks : options.KvCacheBytes ?? (long)numKvBlocks * kvBytesPerBlock,
                (long)numKvBlocks * (kvBytesPerBlock + BytesPerPoolBlock), $"KV cache of {numKvBlocks} blocks"),
            (nameof(EngineOptions.MaxNumSeqs), seqs, (long)seqs * config.VocabSize * sizeof(float) + seqs * blocksPerSeq * sizeof(int), "logits and block tables"),
            (nameof(EngineOptions.MaxNumBatchedTokens), tokens, 3L * tokens * sizeof(int), "the flat batch"),
        };
        if (options.HostCacheBytes > 0)
            parts.Add((nameof(EngineOptions.HostCacheBytes), options.HostCacheBytes, options.HostCacheBytes, "host tier of the prefix cache"));
        if (options.SwapSpaceBytes > 0)
            parts.Add((nameof(EngineOptions.SwapSpaceBytes), options.SwapSpaceBytes, options.SwapSpaceBytes, "swap space"));
        if (cpuActivations)
        {
            long perRow = 3L * config.HiddenSize + 2L * config.NumHeads * config.HeadDim + 2L * config.NumKvHeads * config.HeadDim + 2L * config.IntermediateSize;
            parts.Add((nameof(EngineOptions.MaxNumBatchedTokens), tokens, activationRows * perRow * sizeof(float), "CPU activations"));
        }
        long total = parts.Sum(p => p.Bytes);
        if (total <= availableBytes) return;
        var worst = parts.GroupBy(p => p.Option).MaxBy(g => g.Sum(p => p.Bytes))!;
        string breakdown = string.Join(", ", parts.Where(p => p.Bytes > 0).Select(p => $"{p.What} {Gib(p.Bytes)} GiB"));
        throw new ArgumentException(
            $"EngineOptions.{worst.Key} = {worst.First().Value} needs more host memory than the process has: {Gib(total)} GiB in all ({breakdown}), " +
            $"{Gib(availableBytes)} GiB available. Lower EngineOptions.{worst.Key}.", worst.Key);
    }

    private static void CheckArray(string option, long value, long elements, string what)
    {
        if (elements > Array.MaxLength)
            throw new ArgumentException($"EngineOptions.{option} = {value} asks for {what} = {elements} elements in one buffer, more than the {Array.MaxLength} an array can hold in memory. Lower EngineOptions.{option}.", option);
    }

    private static string Gib(long bytes) => (bytes / (double)(1L << 30)).ToString("0.##", CultureInfo.InvariantCulture);
}
