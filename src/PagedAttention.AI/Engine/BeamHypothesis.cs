using PagedAttention.AI.Requests;

namespace PagedAttention.AI.Engine;

/// <summary>One final beam of a beam search (<see cref="LlmEngine.BeamSearchAsync"/>), best first.</summary>
/// <param name="TokenIds">Its output tokens (an end token included when one ended it, as transformers returns them).</param>
/// <param name="Text">Their text (end tokens add none), or null without a detokenizer.</param>
/// <param name="Score">Summed log-probability / length^LengthPenalty: transformers' <c>sequences_scores</c>, by which beams are ranked.</param>
/// <param name="SumLogprob">Summed log-probability of its tokens.</param>
/// <param name="FinishReason"><see cref="FinishReason.Stop"/> when an end token ended it, else <see cref="FinishReason.Length"/>.</param>
public sealed record BeamHypothesis(IReadOnlyList<int> TokenIds, string? Text, double Score, double SumLogprob, FinishReason FinishReason);
