using PagedAttention.AI.KvCache;
using PagedAttention.AI.Sampling;

namespace PagedAttention.AI.Engine;

/// <summary>
/// Validates a submission against the model and the cache and builds its <see cref="RequestState"/> with one
/// <see cref="EngineSequence"/> per sample. Runs on the caller's thread: a bad request throws there and touches no
/// other request. Thread-safe.
/// </summary>
internal sealed class RequestFactory
{
    private readonly EngineOptions _options;
    private readonly IReadOnlyList<int> _eos;
    private readonly int _vocab, _numKvBlocks;
    private readonly string _kvOptionName;
    private readonly Func<IStreamingDetokenizer>? _defaultDetokenizer;
    private long _nextId;

    public RequestFactory(EngineOptions options, int vocab, IReadOnlyList<int> eosTokenIds, int maxModelLen, int numKvBlocks, string kvOptionName, Func<IStreamingDetokenizer>? defaultDetokenizer)
    {
        _options = options;
        _vocab = vocab;
        _eos = eosTokenIds;
        MaxModelLen = maxModelLen;
        _numKvBlocks = numKvBlocks;
        _kvOptionName = kvOptionName;
        _defaultDetokenizer = defaultDetokenizer;
    }

    /// <summary>Longest prompt + output a request may have.</summary>
    public int MaxModelLen { get; }

    /// <summary>Blocks needed to hold <paramref name="tokens"/> tokens.</summary>
    public int BlocksFor(int tokens) => (tokens + _options.BlockSize - 1) / _options.BlockSize;

    /// <summary>
    /// Checks the request (parameters, prompt ids, lengths, cache size) and builds it; throws
    /// <see cref="ArgumentException"/> (or <see cref="ArgumentOutOfRangeException"/> for a token id) naming the problem.
    /// <paramref name="detokenizer"/> overrides the engine's default detokenizer for this request.
    /// </summary>
    public RequestState Create(int[] promptIds, SamplingParams p, Func<IStreamingDetokenizer>? detokenizer = null)
    {
        p.Validate();
        var detokenizerFactory = detokenizer ?? _defaultDetokenizer;
        if (promptIds.Length == 0) throw new ArgumentException("The prompt is empty.", nameof(promptIds));
        foreach (int id in promptIds)
            if ((uint)id >= (uint)_vocab) throw new ArgumentOutOfRangeException(nameof(promptIds), id, $"Token id {id} is outside the vocabulary of {_vocab}.");
        foreach (int id in p.StopTokenIds)
            if ((uint)id >= (uint)_vocab) throw new ArgumentException($"Stop token id {id} is outside the vocabulary of {_vocab}.", nameof(p));
        if (promptIds.Length >= MaxModelLen)
            throw new ArgumentException($"The prompt has {promptIds.Length} tokens; the model accepts at most {MaxModelLen - 1} before generating (MaxModelLen {MaxModelLen}).", nameof(promptIds));
        if (p.Logprobs > LlmEngine.MaxLogprobs) throw new ArgumentException($"Logprobs must be <= {LlmEngine.MaxLogprobs}, got {p.Logprobs}.", nameof(p));
        if (p.BeamWidth > _options.MaxNumSeqs) throw new ArgumentException($"BeamWidth = {p.BeamWidth} exceeds EngineOptions.MaxNumSeqs = {_options.MaxNumSeqs}.", nameof(p));
        if (p.N > _options.MaxNumSeqs) throw new ArgumentException($"N = {p.N} exceeds EngineOptions.MaxNumSeqs = {_options.MaxNumSeqs}.", nameof(p));
        if (p.StopStrings.Count > 0 && detokenizerFactory is null)
            throw new ArgumentException("StopStrings need a detokenizer: the model directory has no tokenizer.json and EngineOptions.DetokenizerFactory is not set.", nameof(p));
        int total = (int)Math.Min((long)promptIds.Length + p.MaxTokens, MaxModelLen);
        int needed = BlocksFor(total);
        if (p.BeamWidth > 1 && (long)needed * p.BeamWidth > _numKvBlocks)
            throw new ArgumentException($"A beam search of width {p.BeamWidth} may need up to {(long)needed * p.BeamWidth} KV blocks ({total} tokens per beam) but the cache has {_numKvBlocks}; raise {_kvOptionName.Replace(" (or NumKvBlocks)", " or NumKvBlocks", StringComparison.Ordinal)}, or lower MaxTokens or BeamWidth.", nameof(p));
        if (needed > _numKvBlocks)
            throw new ArgumentException($"The request needs up to {needed} KV blocks ({total} tokens) but the cache has {_numKvBlocks}; raise {_kvOptionName.Replace(" (or NumKvBlocks)", " or NumKvBlocks", StringComparison.Ordinal)}, or lower MaxTokens.", nameof(p));

        long id2 = Interlocked.Increment(ref _nextId);
        var req = new RequestState(id2);
        var root = _options.EnablePrefixCaching ? BlockHash.Root(p.CacheSalt) : BlockHash.Private(id2);
        long seed = p.Seed ?? Random.Shared.NextInt64();
        bool beam = p.BeamWidth > 1;
        var seqs = new EngineSequence[beam ? p.BeamWidth : p.N];
        for (int i = 0; i < seqs.Length; i++)
        {
            // Beams decide their ends in the beam search; their text is made once, for the final hypotheses.
            var stop = new StopChecker(p, _eos, total, beam ? null : detokenizerFactory?.Invoke());
            var constraint = p.Constraint?.Invoke() ?? (p.Constraint is null ? null : throw new ArgumentException("SamplingParams.Constraint returned null.", nameof(p)));
            seqs[i] = new EngineSequence(req, i, promptIds, total, root, _options.BlockSize, p, new SamplingRng(seed, i), stop, constraint);
        }
        req.Sequences = seqs;
        if (beam)
        {
            req.Beam = new BeamGroup(req, seqs, p, seqs[0].Stop.EndTokenIds, total - promptIds.Length, _vocab, detokenizerFactory);
            foreach (var s in seqs) s.Beam = req.Beam;
        }
        req.Remaining = seqs.Length;
        return req;
    }
}
