namespace PagedAttention.AI.Requests;

/// <summary>Why a sequence stopped.</summary>
public enum FinishReason
{
    /// <summary>An end-of-sequence token, a stop token or a stop string.</summary>
    Stop,
    /// <summary>MaxTokens or the model's context length was reached.</summary>
    Length,
}
