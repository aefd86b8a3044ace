using PagedAttention.AI.Sampling;

namespace PagedAttention.AI.Engine;

/// <summary>Engine-side state of one sequence, touched only by the step loop.</summary>
internal sealed class SequenceState(RequestState request, SamplingRng rng, IStreamingDetokenizer? detokenizer, StopStringMatcher? stops, int logprobs)
{
    public RequestState Request { get; } = request;

    public SamplingRng Rng = rng;

    public IStreamingDetokenizer? Detokenizer { get; } = detokenizer;

    public StopStringMatcher? Stops { get; } = stops;

    /// <summary>Scratch for the sampler's top logprobs; copied out only when a request asked for them.</summary>
    public TokenLogprob[] TopLogprobs { get; } = logprobs > 0 ? new TokenLogprob[logprobs] : [];
}
