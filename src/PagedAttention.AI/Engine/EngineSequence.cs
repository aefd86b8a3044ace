using PagedAttention.AI.KvCache;
using PagedAttention.AI.Sampling;
using PagedAttention.AI.Scheduling;

namespace PagedAttention.AI.Engine;

/// <summary>
/// A sequence as the step loop holds it: the scheduler's view (tokens, block table) plus what sampling and output
/// need — its request, its flat sampling row, its random stream, its stop checker (which owns the detokenizer) and
/// the scratch for top logprobs. Touched only by the step loop.
/// </summary>
internal sealed class EngineSequence : ScheduledSequence
{
    /// <summary>The parameters as the samplers read them (a field, so that it is passed by reference).</summary>
    public readonly SamplingRow Row;

    /// <summary>This sequence's random stream (a field: the host sampler advances it in place).</summary>
    public SamplingRng Rng;

    public EngineSequence(RequestState request, int index, int[] prompt, int maxTotalTokens, BlockHash rootHash, int blockSize,
        SamplingParams p, SamplingRng rng, StopChecker stop, ITokenConstraint? constraint = null)
        : base(request.Id, index, prompt, maxTotalTokens, rootHash, blockSize)
    {
        Request = request;
        Params = p;
        Row = SamplingRow.From(p);
        Rng = rng;
        Stop = stop;
        Constraint = constraint;
        TopLogprobs = p.Logprobs > 0 ? new TokenLogprob[p.Logprobs] : [];
    }

    public RequestState Request { get; }

    public SamplingParams Params { get; }

    public StopChecker Stop { get; }

    /// <summary>The grammar this sequence's tokens must follow, or null.</summary>
    public ITokenConstraint? Constraint { get; }

    /// <summary>Scratch for the sampler's top logprobs; copied out only when the request asked for them.</summary>
    public TokenLogprob[] TopLogprobs { get; }

    /// <summary>The beam search this sequence is a beam of, or null.</summary>
    public BeamGroup? Beam { get; set; }

    /// <summary>Whether this sequence must be sampled on the host (the device sampler returns no logprobs; beams need their logits).</summary>
    public bool NeedsHostSampling => TopLogprobs.Length > 0 || Beam is not null;
}
