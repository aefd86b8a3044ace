using System.Runtime.InteropServices;

namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// Paged K/V storage for all layers in native memory, float32. Blocks are identified by index; which block
/// belongs to which sequence is decided by the engine's block pool, not here.
/// </summary>
internal unsafe class CpuKvCache : IDisposable
{
    private const int Alignment = 64;
    private readonly float*[] _keys;
    private readonly float*[] _values;
    private readonly void*[] _allocations;
    private bool _disposed;

    /// <summary>Allocates (zeroed) storage for <paramref name="numBlocks"/> blocks in each of <paramref name="numLayers"/> layers.</summary>
    public CpuKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numLayers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numKvHeads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(headDim);
        NumLayers = numLayers;
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        NumKvHeads = numKvHeads;
        HeadDim = headDim;
        _keys = new float*[numLayers];
        _values = new float*[numLayers];
        _allocations = new void*[2 * numLayers];
        nuint bytes = (nuint)((long)numBlocks * blockSize * numKvHeads * headDim * sizeof(float));
        for (int l = 0; l < numLayers; l++)
        {
            _keys[l] = AllocZeroed(bytes, out _allocations[2 * l]);
            _values[l] = AllocZeroed(bytes, out _allocations[2 * l + 1]);
        }
    }

    /// <summary>Number of layers.</summary>
    public int NumLayers { get; }

    /// <summary>Number of blocks per layer.</summary>
    public int NumBlocks { get; }

    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }

    /// <summary>Key/value heads.</summary>
    public int NumKvHeads { get; }

    /// <summary>Elements per head.</summary>
    public int HeadDim { get; }

    /// <summary>Bytes needed per block across all layers, K and V.</summary>
    public static long BytesPerBlock(int numLayers, int blockSize, int numKvHeads, int headDim) =>
        2L * numLayers * blockSize * numKvHeads * headDim * sizeof(float);

    /// <summary>The storage of one layer.</summary>
    public PagedKvLayer Layer(int layer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new PagedKvLayer(_keys[layer], _values[layer], NumBlocks, BlockSize, NumKvHeads, HeadDim);
    }

    /// <summary>Copies blocks within this cache (source, destination id pairs), every layer, K and V.</summary>
    public void CopyBlocks(ReadOnlySpan<int> srcDst) => CopyBlocksTo(this, srcDst);

    /// <summary>
    /// Copies blocks of this cache into <paramref name="destination"/> (a cache of the same layer shape: the swap space),
    /// (source id here, destination id there) pairs, every layer, K and V.
    /// </summary>
    public void CopyBlocksTo(CpuKvCache destination, ReadOnlySpan<int> srcDst)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(destination._disposed, destination);
        if (destination.NumLayers != NumLayers || destination.BlockSize != BlockSize || destination.NumKvHeads != NumKvHeads || destination.HeadDim != HeadDim)
            throw new ArgumentException("The destination cache has another block shape.", nameof(destination));
        if (srcDst.Length % 2 != 0) throw new ArgumentException("Block copies come in (source, destination) pairs.", nameof(srcDst));
        long blockFloats = (long)BlockSize * NumKvHeads * HeadDim;
        for (int i = 0; i < srcDst.Length; i += 2)
        {
            int src = srcDst[i], dst = srcDst[i + 1];
            if ((uint)src >= (uint)NumBlocks || (uint)dst >= (uint)destination.NumBlocks)
                throw new ArgumentOutOfRangeException(nameof(srcDst), $"Block copy {src} -> {dst} is outside the caches ({NumBlocks} and {destination.NumBlocks} blocks).");
            for (int l = 0; l < NumLayers; l++)
            {
                Buffer.MemoryCopy(_keys[l] + src * blockFloats, destination._keys[l] + dst * blockFloats, blockFloats * sizeof(float), blockFloats * sizeof(float));
                Buffer.MemoryCopy(_values[l] + src * blockFloats, destination._values[l] + dst * blockFloats, blockFloats * sizeof(float), blockFloats * sizeof(float));
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in _allocations) NativeMemory.Free(p);
    }

    /// <summary>
    /// Zeroed, 64-byte-aligned storage. calloc rather than aligned alloc + clear: a large calloc gets fresh pages from
    /// the OS, already zero, and leaves them untouched — the cache costs resident memory and load time only for the
    /// blocks that are written, instead of a memset of all of it at load (1 GiB took ~0.6 s and 1 GiB of RSS).
    /// </summary>
    private static float* AllocZeroed(nuint bytes, out void* allocation)
    {
        allocation = NativeMemory.AllocZeroed(bytes + Alignment);
        return (float*)(((nuint)allocation + Alignment - 1) & ~(nuint)(Alignment - 1));
    }
}
