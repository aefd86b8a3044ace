using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// Paged K/V storage for all layers in device memory, bf16, laid out per layer as
/// [numBlocks, numKvHeads, blockSize, headDim]: one (block, KV head) is a contiguous run, which the attention kernels
/// read with 16-byte loads. A slot is block · blockSize + offset, as in <see cref="Cpu.CpuKvCache"/>.
/// </summary>
internal unsafe class CudaKvCache : IDisposable
{
    private readonly CudaDevice _device;
    private readonly DeviceBuffer _storage;

    /// <summary>Allocates (and zeroes) storage for <paramref name="numBlocks"/> blocks in each of <paramref name="numLayers"/> layers.</summary>
    public CudaKvCache(CudaDevice device, int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numLayers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numKvHeads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(headDim);
        _device = device;
        NumLayers = numLayers;
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        NumKvHeads = numKvHeads;
        HeadDim = headDim;
        _storage = device.Allocate(BytesPerBlock(numLayers, blockSize, numKvHeads, headDim) * numBlocks);
        _storage.Clear();
    }

    /// <summary>Number of layers.</summary>
    public int NumLayers { get; }
    /// <summary>Blocks per layer.</summary>
    public int NumBlocks { get; }
    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }
    /// <summary>Key/value heads.</summary>
    public int NumKvHeads { get; }
    /// <summary>Elements per head.</summary>
    public int HeadDim { get; }

    /// <summary>Bytes of one layer's K (or V) block.</summary>
    public long BlockBytes => (long)BlockSize * NumKvHeads * HeadDim * 2;

    /// <summary>Bytes one block takes across all layers, K and V, in bf16.</summary>
    public static long BytesPerBlock(int numLayers, int blockSize, int numKvHeads, int headDim) =>
        2L * numLayers * blockSize * numKvHeads * headDim * 2;

    /// <summary>Device address of layer <paramref name="layer"/>'s keys.</summary>
    public ulong Keys(int layer) => _storage.Ptr + (ulong)(CheckLayer(layer) * 2L * NumBlocks * BlockBytes);

    /// <summary>Device address of layer <paramref name="layer"/>'s values.</summary>
    public ulong Values(int layer) => Keys(layer) + (ulong)(NumBlocks * BlockBytes);

    private int CheckLayer(int layer) =>
        (uint)layer < (uint)NumLayers ? layer : throw new ArgumentOutOfRangeException(nameof(layer), layer, $"The cache has {NumLayers} layers.");

    /// <inheritdoc />
    public void Dispose() => _storage.Dispose();
}
