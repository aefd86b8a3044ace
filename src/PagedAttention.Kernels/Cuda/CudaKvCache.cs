using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// Paged K/V storage for all layers in device memory, bf16 or FP8 E4M3 (<see cref="IsFp8"/>: one byte per element, so
/// twice the blocks in the same memory), laid out per layer as [numBlocks, numKvHeads, blockSize, headDim]: one
/// (block, KV head) is a contiguous run, which the attention kernels read with 16-byte (FP8: 8-byte) loads. A slot is
/// block · blockSize + offset, as in <see cref="Cpu.CpuKvCache"/>.
/// </summary>
internal unsafe class CudaKvCache : IDisposable
{
    private readonly CudaDevice _device;
    private readonly DeviceBuffer _storage;

    /// <summary>
    /// Allocates (and zeroes) storage for <paramref name="numBlocks"/> blocks in each of <paramref name="numLayers"/>
    /// layers; <paramref name="fp8"/> stores E4M3 codes (<see cref="Fp8KvCache"/>) instead of bf16.
    /// </summary>
    public CudaKvCache(CudaDevice device, int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim, bool fp8 = false)
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
        IsFp8 = fp8;
        _storage = device.Allocate(BytesPerBlock(numLayers, blockSize, numKvHeads, headDim, ElementBytesOf(fp8)) * numBlocks);
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

    /// <summary>Whether elements are FP8 E4M3 codes (1 byte) rather than bf16 (2 bytes).</summary>
    public bool IsFp8 { get; }

    /// <summary>Bytes per element: 2 (bf16) or 1 (FP8).</summary>
    public int ElementBytes => ElementBytesOf(IsFp8);

    /// <summary>Bytes per element of a cache with or without <paramref name="fp8"/>.</summary>
    public static int ElementBytesOf(bool fp8) => fp8 ? Fp8KvCache.ElementBytes : sizeof(ushort);

    /// <summary>Bytes of one layer's K (or V) block.</summary>
    public long BlockBytes => (long)BlockSize * NumKvHeads * HeadDim * ElementBytes;

    /// <summary>Bytes of this cache's blocks across all layers, K and V (what the swap space and host tier copy per block).</summary>
    public long BytesPerBlockAllLayers => BytesPerBlock(NumLayers, BlockSize, NumKvHeads, HeadDim, ElementBytes);

    /// <summary>Bytes one block takes across all layers, K and V, with <paramref name="elementBytes"/> per element (2: bf16, 1: FP8).</summary>
    public static long BytesPerBlock(int numLayers, int blockSize, int numKvHeads, int headDim, int elementBytes = sizeof(ushort)) =>
        elementBytes is 1 or 2
            ? 2L * numLayers * blockSize * numKvHeads * headDim * elementBytes
            : throw new ArgumentOutOfRangeException(nameof(elementBytes), elementBytes, "KV elements are 1 (FP8) or 2 (bf16) bytes.");

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
