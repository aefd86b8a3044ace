using PagedAttention.AI.Sampling;
using PagedAttention.Kernels.Cpu;

namespace PagedAttention.AI.Models;

/// <summary>The CPU runner: <see cref="LlamaModel"/> over a <see cref="CpuKvCache"/>; sampling stays on the host.</summary>
internal sealed class CpuModelRunner : IModelRunner
{
    private readonly LlamaModel _model;
    private readonly CpuKvCache _cache;

    /// <summary>Takes ownership of <paramref name="model"/>; the cache gets <paramref name="numBlocks"/> blocks.</summary>
    public CpuModelRunner(LlamaModel model, int numBlocks, int blockSize)
    {
        _model = model;
        _cache = model.CreateKvCache(numBlocks, blockSize);
    }

    /// <summary>Blocks that <paramref name="kvCacheBytes"/> hold for <paramref name="model"/> (at least one).</summary>
    public static int BlocksFor(LlamaModel model, long kvCacheBytes, int blockSize) =>
        (int)Math.Clamp(kvCacheBytes / model.KvBytesPerBlock(blockSize), 1, int.MaxValue);

    public IDecoderModel Model => _model;
    public string Device => "cpu";
    public int NumKvBlocks => _cache.NumBlocks;
    public int BlockSize => _cache.BlockSize;
    public IDeviceSampler? DeviceSampler => null;

    public void Forward(ForwardBatch batch, Span<float> logits) => _model.Forward(batch, _cache, logits);

    public void ForwardSample(ForwardBatch batch, Span<int> tokens, Span<float> logits, ReadOnlySpan<int> logitRows) =>
        throw new NotSupportedException("The CPU runner samples on the host.");

    public void CopyBlocks(ReadOnlySpan<int> srcDst) => _cache.CopyBlocks(srcDst);

    private CpuKvCache? _swap; // the swap space: a second region of host memory with the cache's layout

    public long KvBytesPerBlock => _model.KvBytesPerBlock(_cache.BlockSize);

    public void AllocateSwapSpace(int numBlocks)
    {
        if (_swap is not null) throw new InvalidOperationException("The swap space is allocated once.");
        if (numBlocks > 0) _swap = _model.CreateKvCache(numBlocks, _cache.BlockSize);
    }

    public void SwapOut(ReadOnlySpan<int> deviceHost) => _cache.CopyBlocksTo(Swap, deviceHost);

    public void SwapIn(ReadOnlySpan<int> hostDevice) => Swap.CopyBlocksTo(_cache, hostDevice);

    private CpuKvCache Swap => _swap ?? throw new InvalidOperationException("No swap space was allocated.");

    public bool CanLaunchAsync => false;

    public void LaunchSample(ForwardBatch batch) => throw new NotSupportedException("The CPU runner computes synchronously.");

    public void WaitSample(Span<int> tokens) => throw new NotSupportedException("The CPU runner computes synchronously.");

    public void Dispose()
    {
        _swap?.Dispose();
        _cache.Dispose();
        _model.Dispose();
    }
}
