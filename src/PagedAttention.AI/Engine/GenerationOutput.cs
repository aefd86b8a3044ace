namespace PagedAttention.AI.Engine;

/// <summary>One generated token of a request.</summary>
/// <param name="TokenId">The token.</param>
/// <param name="Index">0-based position of the token in the output.</param>
/// <param name="FinishReason">Set on the last token of the sequence.</param>
public readonly record struct GenerationOutput(int TokenId, int Index, FinishReason? FinishReason);
