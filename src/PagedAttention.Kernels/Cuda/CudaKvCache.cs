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

    /// <summary>
    /// Queues copies of whole blocks (source, destination id pairs), every layer, K and V, on the device's stream:
    /// ordered after the work already queued and before the next step's kernels, so no event is needed.
    /// </summary>
    public void CopyBlocks(ReadOnlySpan<int> srcDst)
    {
        if (srcDst.Length % 2 != 0) throw new ArgumentException("Block copies come in (source, destination) pairs.", nameof(srcDst));
        for (int i = 0; i < srcDst.Length; i += 2)
        {
            int src = srcDst[i], dst = srcDst[i + 1];
            if ((uint)src >= (uint)NumBlocks || (uint)dst >= (uint)NumBlocks) throw new ArgumentOutOfRangeException(nameof(srcDst), $"Block copy {src} -> {dst} is outside the {NumBlocks} blocks.");
            for (int l = 0; l < NumLayers; l++)
            {
                ulong k = Keys(l), v = Values(l), s = (ulong)(src * BlockBytes), d = (ulong)(dst * BlockBytes);
                CuDriver.Check(CuDriver.Fn.cuMemcpyDtoDAsync(k + d, k + s, (nuint)BlockBytes, _device.Stream), "cuMemcpyDtoDAsync");
                CuDriver.Check(CuDriver.Fn.cuMemcpyDtoDAsync(v + d, v + s, (nuint)BlockBytes, _device.Stream), "cuMemcpyDtoDAsync");
            }
        }
    }

    private int CheckLayer(int layer) =>
        (uint)layer < (uint)NumLayers ? layer : throw new ArgumentOutOfRangeException(nameof(layer), layer, $"The cache has {NumLayers} layers.");

    /// <inheritdoc />
    public void Dispose() => _storage.Dispose();
}
