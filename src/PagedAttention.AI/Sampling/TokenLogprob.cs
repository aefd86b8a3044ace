namespace PagedAttention.AI.Sampling;

/// <summary>A token and its log-probability under the model's raw distribution (before penalties and temperature).</summary>
/// <param name="TokenId">The token.</param>
/// <param name="Logprob">Natural-log probability.</param>
public readonly record struct TokenLogprob(int TokenId, float Logprob);
