using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;

namespace PagedAttention.AI.Engine;

/// <summary>One generated token of a request (of one of its sequences when <see cref="SamplingParams.N"/> &gt; 1).</summary>
/// <param name="TokenId">The token.</param>
/// <param name="Index">0-based position of the token in its sequence's output.</param>
/// <param name="FinishReason">Set on the last token of the sequence.</param>
public readonly record struct GenerationOutput(int TokenId, int Index, FinishReason? FinishReason)
{
    /// <summary>Which of the request's n sequences produced this token (0 when n = 1).</summary>
    public int SequenceIndex { get; init; }

    /// <summary>
    /// Text this token completes, with stop strings already cut; null when the engine has no detokenizer
    /// (<see cref="EngineOptions.DetokenizerFactory"/>). Empty while a character or a possible stop string is held back.
    /// </summary>
    public string? TextDelta { get; init; }

    /// <summary>Prompt tokens of this sequence served from the prefix cache instead of being computed.</summary>
    public int CachedTokens { get; init; }

    /// <summary>Raw log-probability of <see cref="TokenId"/> when <see cref="SamplingParams.Logprobs"/> &gt; 0; NaN otherwise.</summary>
    public float Logprob { get; init; }

    /// <summary>
    /// Beam search (<see cref="SamplingParams.BeamWidth"/> &gt; 1): the score of the beam this token belongs to (summed
    /// log-probability / length^LengthPenalty); beams arrive best first (<see cref="SequenceIndex"/> is the rank). Null otherwise.
    /// </summary>
    public float? BeamScore { get; init; }

    /// <summary>The most likely tokens at this position, best first, when <see cref="SamplingParams.Logprobs"/> &gt; 0.</summary>
    public TokenLogprob[]? TopLogprobs { get; init; }
}
