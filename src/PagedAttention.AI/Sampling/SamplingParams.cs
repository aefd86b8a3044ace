namespace PagedAttention.AI.Sampling;

/// <summary>How one request is decoded. Mirrors vLLM's SamplingParams.</summary>
public sealed class SamplingParams
{
    /// <summary>Softmax temperature; 0 means greedy (argmax).</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Keep only the k most likely tokens; 0 or less disables.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability reaches this mass; 1 disables.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Drop tokens whose probability is below MinP times the top token's; 0 disables.</summary>
    public float MinP { get; init; }

    /// <summary>Additive penalty for every token already generated at least once.</summary>
    public float PresencePenalty { get; init; }

    /// <summary>Additive penalty proportional to how often a token was generated.</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>Multiplicative penalty for tokens in the prompt or output (1 disables).</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>Seed of this request's random stream; null draws one at random.</summary>
    public long? Seed { get; init; }

    /// <summary>Maximum number of tokens to generate.</summary>
    public int MaxTokens { get; init; } = 256;

    /// <summary>Minimum number of tokens before eos or stop tokens may end the request.</summary>
    public int MinTokens { get; init; }

    /// <summary>Keep generating past the model's end-of-sequence tokens.</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Token ids that end the request (in addition to eos).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Strings that end the request when they appear in the detokenized output; the stop string is not emitted.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Number of top log-probabilities to return per generated token; 0 disables.</summary>
    public int Logprobs { get; init; }

    /// <summary>Number of sequences to generate from the same prompt.</summary>
    public int N { get; init; } = 1;

    /// <summary>
    /// Beams of a deterministic beam search (transformers' <c>num_beams</c> with <c>do_sample=False</c>); 1 (default) is
    /// ordinary decoding. With more, <see cref="N"/> is how many of the final beams are returned (best first, as
    /// <c>num_return_sequences</c>), outputs arrive when the search ends, and Temperature, TopK, TopP, MinP and Seed are
    /// not used; penalties, logprobs and stop strings are refused. Beams share their KV blocks (docs/engine.md).
    /// </summary>
    public int BeamWidth { get; init; } = 1;

    /// <summary>Beam search: a finished hypothesis scores its summed log-probability / length^LengthPenalty (transformers' <c>length_penalty</c>). Default 1.</summary>
    public float LengthPenalty { get; init; } = 1f;

    /// <summary>Beam search: when to stop (transformers' <c>early_stopping</c>). Default <see cref="BeamEarlyStopping.Heuristic"/> (False).</summary>
    public BeamEarlyStopping EarlyStopping { get; init; }

    /// <summary>Salt folded into the prefix-cache hash so that tenants never share KV blocks.</summary>
    public string? CacheSalt { get; init; }

    /// <summary>
    /// Creates the constraint of one sequence (called once per sequence when the request is submitted, so n &gt; 1
    /// gets independent ones): its tokens are masked to what the constraint allows. Null: unconstrained. Internal: the
    /// chat client builds it from <c>ChatOptions.ResponseFormat</c> and <c>ToolMode</c>.
    /// </summary>
    internal Func<ITokenConstraint>? Constraint { get; init; }

    /// <summary>Largest <see cref="MaxTokens"/> accepted (the model's context length caps it further).</summary>
    public const int MaxMaxTokens = 1 << 24;

    /// <summary>Largest <see cref="N"/> accepted (<c>EngineOptions.MaxNumSeqs</c> caps it further).</summary>
    public const int MaxN = 1024;

    /// <summary>Largest <see cref="BeamWidth"/> accepted (<c>EngineOptions.MaxNumSeqs</c> caps it further).</summary>
    public const int MaxBeamWidth = 64;

    /// <summary>Most stop strings per request.</summary>
    public const int MaxStopStrings = 64;

    /// <summary>Throws <see cref="ArgumentException"/> (<see cref="ArgumentNullException"/> for a null list) naming the first invalid field.</summary>
    public void Validate()
    {
        if (StopTokenIds is null) throw new ArgumentNullException(nameof(StopTokenIds), "StopTokenIds must not be null (use an empty list).");
        if (StopStrings is null) throw new ArgumentNullException(nameof(StopStrings), "StopStrings must not be null (use an empty list).");
        if (CacheSalt is { Length: 0 }) throw new ArgumentException("CacheSalt must not be empty: an empty salt would share the unsalted prefix cache. Use null for no salt.", nameof(CacheSalt));
        if (!(Temperature >= 0) || float.IsInfinity(Temperature)) throw new ArgumentException($"Temperature must be >= 0 and finite, got {Temperature}.", nameof(Temperature));
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"TopP must be in (0, 1], got {TopP}.", nameof(TopP));
        if (!(MinP >= 0 && MinP <= 1)) throw new ArgumentException($"MinP must be in [0, 1], got {MinP}.", nameof(MinP));
        if (!(RepetitionPenalty > 0) || float.IsInfinity(RepetitionPenalty)) throw new ArgumentException($"RepetitionPenalty must be > 0, got {RepetitionPenalty}.", nameof(RepetitionPenalty));
        if (float.IsNaN(PresencePenalty) || float.IsInfinity(PresencePenalty)) throw new ArgumentException("PresencePenalty must be finite.", nameof(PresencePenalty));
        if (float.IsNaN(FrequencyPenalty) || float.IsInfinity(FrequencyPenalty)) throw new ArgumentException("FrequencyPenalty must be finite.", nameof(FrequencyPenalty));
        if (MaxTokens < 1) throw new ArgumentException($"MaxTokens must be >= 1, got {MaxTokens}.", nameof(MaxTokens));
        if (MinTokens < 0 || MinTokens > MaxTokens) throw new ArgumentException($"MinTokens must be in [0, MaxTokens], got {MinTokens}.", nameof(MinTokens));
        if (Logprobs < 0) throw new ArgumentException($"Logprobs must be >= 0, got {Logprobs}.", nameof(Logprobs));
        if (N < 1) throw new ArgumentException($"N must be >= 1, got {N}.", nameof(N));
        if (MaxTokens > MaxMaxTokens) throw new ArgumentException($"MaxTokens must be <= {MaxMaxTokens}, got {MaxTokens}.", nameof(MaxTokens));
        if (N > MaxN) throw new ArgumentException($"N must be <= {MaxN}, got {N}.", nameof(N));
        if (StopStrings.Count > MaxStopStrings) throw new ArgumentException($"At most {MaxStopStrings} stop strings, got {StopStrings.Count}.", nameof(StopStrings));
        if (StopStrings.Any(string.IsNullOrEmpty)) throw new ArgumentException("StopStrings must not contain empty strings.", nameof(StopStrings));
        if (BeamWidth is < 1 or > MaxBeamWidth) throw new ArgumentException($"BeamWidth must be in 1..{MaxBeamWidth}, got {BeamWidth}.", nameof(BeamWidth));
        if (!float.IsFinite(LengthPenalty)) throw new ArgumentException("LengthPenalty must be finite.", nameof(LengthPenalty));
        if (!Enum.IsDefined(EarlyStopping)) throw new ArgumentException($"EarlyStopping {EarlyStopping} is not defined.", nameof(EarlyStopping));
        if (BeamWidth > 1)
        {
            if (N > BeamWidth) throw new ArgumentException($"N = {N} asks for more beams than BeamWidth = {BeamWidth} searches.", nameof(N));
            if (PresencePenalty != 0 || FrequencyPenalty != 0 || RepetitionPenalty != 1)
                throw new ArgumentException("Beam search (BeamWidth > 1) takes no presence, frequency or repetition penalty.", nameof(BeamWidth));
            if (Logprobs > 0) throw new ArgumentException("Beam search (BeamWidth > 1) returns beam scores, not Logprobs.", nameof(Logprobs));
            if (StopStrings.Count > 0) throw new ArgumentException("Beam search (BeamWidth > 1) takes no StopStrings (StopTokenIds end a beam).", nameof(StopStrings));
            if (Constraint is not null) throw new ArgumentException("Beam search (BeamWidth > 1) cannot be combined with structured output.", nameof(BeamWidth));
        }
    }
}
