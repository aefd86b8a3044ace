namespace PagedAttention.AI.Sampling;

/// <summary>Why a generated sequence ended.</summary>
public enum FinishReason
{
    /// <summary>An end-of-sequence token, a stop token id or a stop string.</summary>
    Stop,

    /// <summary>MaxTokens reached, or the model's maximum context length.</summary>
    Length,

    /// <summary>The caller cancelled or abandoned the request.</summary>
    Cancelled,

    /// <summary>The request failed; its stream ends with the exception.</summary>
    Error,
}
