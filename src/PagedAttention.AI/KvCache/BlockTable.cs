namespace PagedAttention.AI.KvCache;

/// <summary>
/// One sequence's share of the cache: its blocks in position order, the chained hashes of its full blocks (memoized)
/// and how many leading blocks are registered in the prefix cache and marked computed. Owned by the scheduler, one
/// per sequence; <see cref="KvCacheManager"/> fills and empties it. Knows tokens and blocks, not requests.
/// </summary>
internal sealed class BlockTable
{
    private readonly BlockHash[] _hashes;
    private readonly int _blockSize;
    private int _numHashes;

    /// <param name="rootHash">Chain root: folds in the cache salt (or a per-request key when prefix caching is off).</param>
    /// <param name="maxTokens">Most tokens the sequence may hold (sizes the buffers once).</param>
    /// <param name="blockSize">Tokens per block.</param>
    public BlockTable(BlockHash rootHash, int maxTokens, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        RootHash = rootHash;
        _blockSize = blockSize;
        int maxBlocks = (maxTokens + blockSize - 1) / blockSize;
        _hashes = new BlockHash[maxBlocks];
        Blocks = new List<KvBlock>(maxBlocks);
    }

    public BlockHash RootHash { get; }

    /// <summary>The blocks, in position order.</summary>
    public List<KvBlock> Blocks { get; }

    public int Count => Blocks.Count;

    /// <summary>Leading blocks already registered in the prefix cache (or found to be duplicates).</summary>
    public int NumRegistered { get; internal set; }

    /// <summary>Leading blocks already marked computed.</summary>
    public int NumComputed { get; internal set; }

    /// <summary>While swapped out: the host blocks holding this table's blocks, in position order (sized at the first swap).</summary>
    public int[]? HostBlocks { get; private set; }

    /// <summary>Host blocks held (0 unless swapped out).</summary>
    public int NumHostBlocks { get; internal set; }

    internal int[] EnsureHostBlocks() => HostBlocks ??= new int[_hashes.Length];

    /// <summary>
    /// Chained hash of full block <paramref name="index"/> of <paramref name="knownTokens"/> (the sequence's tokens
    /// whose ids are known; the block must be full of them). Memoized: the tokens of hashed blocks never change.
    /// </summary>
    public BlockHash HashAt(int index, ReadOnlySpan<int> knownTokens)
    {
        if ((index + 1) * _blockSize > knownTokens.Length) throw new ArgumentOutOfRangeException(nameof(index), "Block is not full (or holds a placeholder).");
        while (_numHashes <= index)
        {
            var parent = _numHashes == 0 ? RootHash : _hashes[_numHashes - 1];
            _hashes[_numHashes] = BlockHash.Compute(parent, knownTokens.Slice(_numHashes * _blockSize, _blockSize));
            _numHashes++;
        }
        return _hashes[index];
    }

    /// <summary>
    /// Takes <paramref name="parent"/>'s memoized hashes and, with <paramref name="withBlocks"/>, its registered and
    /// computed counts (the caller copies the blocks): a forked table over the same tokens.
    /// </summary>
    internal void CopyStateFrom(BlockTable parent, bool withBlocks)
    {
        if (parent.RootHash != RootHash || parent._hashes.Length != _hashes.Length) throw new ArgumentException("Only tables of one request fork from each other.", nameof(parent));
        parent._hashes.AsSpan(0, parent._numHashes).CopyTo(_hashes);
        _numHashes = parent._numHashes;
        NumRegistered = withBlocks ? parent.NumRegistered : 0;
        NumComputed = withBlocks ? parent.NumComputed : 0;
    }

    /// <inheritdoc />
    public override string ToString() => $"BlockTable(blocks={Blocks.Count}, registered={NumRegistered}, computed={NumComputed})";
}
