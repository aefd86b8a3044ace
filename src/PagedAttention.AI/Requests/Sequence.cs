namespace PagedAttention.AI.Requests;

/// <summary>
/// One generated sequence (a request with n &gt; 1 has n of them): its tokens, how many of them have KV computed, its
/// status and why it finished. A leaf: it knows no blocks, no sampler and no engine; the scheduler adds the block
/// table (<c>Scheduling.ScheduledSequence</c>) and the engine its output state (<c>Engine.EngineSequence</c>).
/// Buffers are sized once, at creation.
/// </summary>
internal class Sequence
{
    private readonly int[] _tokens;

    public Sequence(long requestId, int index, ReadOnlySpan<int> prompt, int maxTotalTokens)
    {
        ArgumentOutOfRangeException.ThrowIfZero(prompt.Length, nameof(prompt));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTotalTokens, prompt.Length);
        RequestId = requestId;
        Index = index;
        _tokens = new int[maxTotalTokens];
        prompt.CopyTo(_tokens);
        NumTokens = NumPromptTokens = prompt.Length;
    }

    public long RequestId { get; }

    /// <summary>Which of the request's n samples this is.</summary>
    public int Index { get; }

    /// <summary>Most tokens (prompt + output) this sequence may ever hold.</summary>
    public int MaxTotalTokens => _tokens.Length;

    public int NumTokens { get; private set; }

    public int NumPromptTokens { get; }

    public int NumOutputTokens => NumTokens - NumPromptTokens;

    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, NumTokens);

    /// <summary>Tokens whose ids are known (a trailing placeholder excluded).</summary>
    public ReadOnlySpan<int> KnownTokens => _tokens.AsSpan(0, NumKnownTokens);

    public ReadOnlySpan<int> PromptTokens => _tokens.AsSpan(0, NumPromptTokens);

    public ReadOnlySpan<int> OutputTokens => _tokens.AsSpan(NumPromptTokens, NumOutputTokens);

    public int LastToken => _tokens[NumTokens - 1];

    /// <summary>Tokens whose KV is in the cache (or being written by the step in flight).</summary>
    public int NumComputedTokens { get; set; }

    /// <summary>Prompt tokens served from the prefix cache at the last admission.</summary>
    public int NumCachedTokens { get; set; }

    public int NumPreemptions { get; set; }

    public SequenceStatus Status { get; set; } = SequenceStatus.Waiting;

    public FinishReason? FinishReason { get; set; }

    /// <summary>Admission order; smaller is older.</summary>
    public long ArrivalOrder { get; set; }

    public bool IsFinished => Status == SequenceStatus.Finished;

    /// <summary>Appends a sampled token. Throws when the buffer is full (the caller must stop at MaxTotalTokens).</summary>
    public void AppendToken(int token)
    {
        if (HasPlaceholder) throw new InvalidOperationException("The last token is still a placeholder.");
        if (NumTokens == _tokens.Length) throw new InvalidOperationException("Sequence is at its maximum length.");
        _tokens[NumTokens++] = token;
    }

    /// <summary>
    /// Makes this sequence a copy of <paramref name="parent"/>'s tokens (a beam forking from another beam of the same
    /// request: same prompt, same buffer size). Computed-token and block state are the scheduler's business.
    /// </summary>
    public void CopyTokensFrom(Sequence parent)
    {
        ArgumentNullException.ThrowIfNull(parent);
        if (parent.HasPlaceholder || HasPlaceholder) throw new InvalidOperationException("Cannot fork a sequence whose last token is a placeholder.");
        if (parent.MaxTotalTokens != MaxTotalTokens || parent.NumPromptTokens != NumPromptTokens) throw new ArgumentException("Only sequences of one request fork from each other.", nameof(parent));
        parent.Tokens.CopyTo(_tokens);
        NumTokens = parent.NumTokens;
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

    /// <inheritdoc />
    public override string ToString() => $"Seq({RequestId}.{Index}, {Status}, tokens={NumTokens}, computed={NumComputedTokens})";
}
