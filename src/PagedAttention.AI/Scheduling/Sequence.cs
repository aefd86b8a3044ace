using PagedAttention.AI.KvCache;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;

namespace PagedAttention.AI.Scheduling;

/// <summary>
/// One generated sequence (a request with n &gt; 1 has n of them): its tokens, how many have KV computed,
/// its block table and the chained hashes of its full blocks. Buffers are sized once, at creation.
/// </summary>
internal sealed class Sequence
{
    private readonly int[] _tokens;
    private readonly BlockHash[] _hashes;
    private readonly int _blockSize;
    private int _numHashes;

    public Sequence(long requestId, int index, ReadOnlySpan<int> prompt, SamplingParams samplingParams, BlockHash rootHash, int maxTotalTokens, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfZero(prompt.Length, nameof(prompt));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTotalTokens, prompt.Length);
        RequestId = requestId;
        Index = index;
        Params = samplingParams;
        RootHash = rootHash;
        _blockSize = blockSize;
        _tokens = new int[maxTotalTokens];
        prompt.CopyTo(_tokens);
        NumTokens = NumPromptTokens = prompt.Length;
        int maxBlocks = (maxTotalTokens + blockSize - 1) / blockSize;
        _hashes = new BlockHash[maxBlocks];
        Blocks = new List<KvBlock>(maxBlocks);
    }

    public long RequestId { get; }

    /// <summary>Which of the request's n samples this is.</summary>
    public int Index { get; }

    public SamplingParams Params { get; }

    /// <summary>Chain root: folds in the cache salt (or a per-request key when prefix caching is off).</summary>
    public BlockHash RootHash { get; }

    /// <summary>Most tokens (prompt + output) this sequence may ever hold.</summary>
    public int MaxTotalTokens => _tokens.Length;

    public int NumTokens { get; private set; }

    public int NumPromptTokens { get; }

    public int NumOutputTokens => NumTokens - NumPromptTokens;

    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, NumTokens);

    public ReadOnlySpan<int> PromptTokens => _tokens.AsSpan(0, NumPromptTokens);

    public ReadOnlySpan<int> OutputTokens => _tokens.AsSpan(NumPromptTokens, NumOutputTokens);

    public int LastToken => _tokens[NumTokens - 1];

    /// <summary>Tokens whose KV is in the cache (or being written by the step in flight).</summary>
    public int NumComputedTokens { get; internal set; }

    /// <summary>Prompt tokens served from the prefix cache at the last admission.</summary>
    public int NumCachedTokens { get; internal set; }

    public int NumPreemptions { get; internal set; }

    /// <summary>Block table, in position order.</summary>
    public List<KvBlock> Blocks { get; }

    /// <summary>Leading blocks already registered in the prefix cache (or found to be duplicates).</summary>
    internal int NumRegisteredBlocks { get; set; }

    /// <summary>Leading blocks already marked computed.</summary>
    internal int NumComputedBlocks { get; set; }

    public SequenceStatus Status { get; internal set; } = SequenceStatus.Waiting;

    public FinishReason? FinishReason { get; internal set; }

    /// <summary>Admission order; smaller is older.</summary>
    public long ArrivalOrder { get; internal set; }

    /// <summary>Engine-side state (output channel, detokenizer, RNG).</summary>
    public object? Owner { get; set; }

    public bool IsFinished => Status == SequenceStatus.Finished;

    /// <summary>Appends a sampled token. Throws when the buffer is full (the caller must stop at MaxTotalTokens).</summary>
    public void AppendToken(int token)
    {
        if (HasPlaceholder) throw new InvalidOperationException("The last token is still a placeholder.");
        if (NumTokens == _tokens.Length) throw new InvalidOperationException("Sequence is at its maximum length.");
        _tokens[NumTokens++] = token;
    }

    /// <summary>The token id a placeholder holds until <see cref="ResolvePlaceholder"/>.</summary>
    public const int Placeholder = -1;

    /// <summary>
    /// True while the last token is a placeholder: the token the step in flight is sampling, appended before it is
    /// known so that the next step can be scheduled meanwhile. Blocks that contain it are not hashed until it is resolved.
    /// </summary>
    public bool HasPlaceholder { get; private set; }

    /// <summary>Appends a placeholder for the token the step in flight samples.</summary>
    public void AppendPlaceholder()
    {
        AppendToken(Placeholder);
        HasPlaceholder = true;
    }

    /// <summary>Replaces the placeholder with the sampled token.</summary>
    public void ResolvePlaceholder(int token)
    {
        if (!HasPlaceholder) throw new InvalidOperationException("The sequence has no placeholder.");
        _tokens[NumTokens - 1] = token;
        HasPlaceholder = false;
    }

    /// <summary>Tokens whose ids are known: all of them, or all but a trailing placeholder.</summary>
    public int NumKnownTokens => HasPlaceholder ? NumTokens - 1 : NumTokens;

    /// <summary>Chained hash of full block <paramref name="index"/> (all its tokens must be known). Memoized.</summary>
    public BlockHash BlockHashAt(int index)
    {
        if ((index + 1) * _blockSize > NumKnownTokens) throw new ArgumentOutOfRangeException(nameof(index), "Block is not full (or holds a placeholder).");
        while (_numHashes <= index)
        {
            var parent = _numHashes == 0 ? RootHash : _hashes[_numHashes - 1];
            _hashes[_numHashes] = BlockHash.Compute(parent, _tokens.AsSpan(_numHashes * _blockSize, _blockSize));
            _numHashes++;
        }
        return _hashes[index];
    }

    /// <inheritdoc />
    public override string ToString() => $"Seq({RequestId}.{Index}, {Status}, tokens={NumTokens}, computed={NumComputedTokens}, blocks={Blocks.Count})";
}
