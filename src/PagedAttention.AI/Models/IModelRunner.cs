using PagedAttention.AI.Sampling;

namespace PagedAttention.AI.Models;

/// <summary>
/// What the engine's step loop needs from a device: one forward pass over a <see cref="ForwardBatch"/> against the
/// runner's own paged KV cache, giving either logits (sampled on the host) or, where the device samples itself, token
/// ids; plus the cache's size and block copies. Not thread-safe: the step loop is the only caller.
/// </summary>
internal interface IModelRunner : IDisposable
{
    /// <summary>The model.</summary>
    IDecoderModel Model { get; }

    /// <summary>"cpu" or "cuda".</summary>
    string Device { get; }

    /// <summary>Blocks in the KV cache.</summary>
    int NumKvBlocks { get; }

    /// <summary>Tokens per KV block.</summary>
    int BlockSize { get; }

    /// <summary>The device-side sampler, or null when tokens are sampled on the host from <see cref="Forward"/>'s logits.</summary>
    IDeviceSampler? DeviceSampler { get; }

    /// <summary>Runs one step; <paramref name="logits"/> receives [NumSeqs, VocabSize], each sequence's last token.</summary>
    void Forward(ForwardBatch batch, Span<float> logits);

    /// <summary>
    /// Runs one step and samples every sequence's next token on the device with the rows set on
    /// <see cref="DeviceSampler"/>. The raw logits of the rows listed in <paramref name="logitRows"/> (ascending: rows
    /// the host must sample itself, for logprobs) are copied into <paramref name="logits"/> at their rows' offsets
    /// ([NumSeqs, VocabSize] layout); other rows of <paramref name="logits"/> are left as they were, so a step with one
    /// logprobs request among hundreds moves one row to the host, not all of them.
    /// </summary>
    void ForwardSample(ForwardBatch batch, Span<int> tokens, Span<float> logits, ReadOnlySpan<int> logitRows);

    /// <summary>
    /// Copies whole KV blocks, every layer, K and V: <paramref name="srcDst"/> holds (source id, destination id) pairs.
    /// Queued before the next forward pass in device order (beam search's copy on write of a shared, partially filled block).
    /// </summary>
    void CopyBlocks(ReadOnlySpan<int> srcDst);

    /// <summary>Bytes of one KV block across all layers, K and V (what a swap moves per block).</summary>
    long KvBytesPerBlock { get; }

    /// <summary>Allocates the host region of <paramref name="numBlocks"/> blocks that swapped-out blocks go to (once, at engine start).</summary>
    /// <exception cref="NotSupportedException">The backend has no swap (CUDA for now).</exception>
    void AllocateSwapSpace(int numBlocks);

    /// <summary>Copies device blocks to host blocks: (device id, host id) pairs, queued before the next forward pass.</summary>
    void SwapOut(ReadOnlySpan<int> deviceHost);

    /// <summary>Copies host blocks to device blocks: (host id, device id) pairs, queued before the next forward pass.</summary>
    void SwapIn(ReadOnlySpan<int> hostDevice);

    /// <summary>
    /// Seconds the swap copies took on the device, counting the batches known to have finished (CUDA: events around each
    /// batch on the copy stream), or null where <see cref="SwapOut"/> / <see cref="SwapIn"/> copy before they return
    /// (the CPU), so that the engine's own timing of those calls is the copy time. Read from any thread.
    /// </summary>
    double? SwapCopySeconds => null;

    /// <summary>Whether <see cref="LaunchSample"/> / <see cref="WaitSample"/> work (the device computes asynchronously).</summary>
    bool CanLaunchAsync { get; }

    /// <summary>
    /// Queues what <see cref="ForwardSample"/> does (token ids only, no host logits) and returns without waiting, so that
    /// the host can work while the device computes. Exactly one <see cref="WaitSample"/> must follow.
    /// </summary>
    void LaunchSample(ForwardBatch batch);

    /// <summary>Waits for the step <see cref="LaunchSample"/> queued and copies its token ids.</summary>
    void WaitSample(Span<int> tokens);
}
