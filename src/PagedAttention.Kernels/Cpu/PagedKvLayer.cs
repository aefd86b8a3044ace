namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// One layer's view of a <see cref="CpuKvCache"/>: K and V as [numBlocks, blockSize, numKvHeads, headDim] float32.
/// A slot is block * blockSize + offset within the block.
/// </summary>
internal unsafe struct PagedKvLayer
{
    internal PagedKvLayer(float* keys, float* values, int numBlocks, int blockSize, int numKvHeads, int headDim)
    {
        Keys = keys;
        Values = values;
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        NumKvHeads = numKvHeads;
        HeadDim = headDim;
    }

    /// <summary>Base of the key storage.</summary>
    public float* Keys { get; }

    /// <summary>Base of the value storage.</summary>
    public float* Values { get; }

    /// <summary>Blocks in the cache.</summary>
    public int NumBlocks { get; }

    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }

    /// <summary>Key/value heads.</summary>
    public int NumKvHeads { get; }

    /// <summary>Elements per head.</summary>
    public int HeadDim { get; }

    /// <summary>Floats per token (numKvHeads * headDim).</summary>
    public int RowWidth => NumKvHeads * HeadDim;

    /// <summary>The key row of one slot.</summary>
    public Span<float> KeyRow(int slot) => new(Keys + CheckSlot(slot) * RowWidth, RowWidth);

    /// <summary>The value row of one slot.</summary>
    public Span<float> ValueRow(int slot) => new(Values + CheckSlot(slot) * RowWidth, RowWidth);

    private long CheckSlot(int slot)
    {
        if ((uint)slot >= (uint)(NumBlocks * BlockSize)) throw new ArgumentOutOfRangeException(nameof(slot), slot, "KV slot is outside the cache.");
        return slot;
    }
}
