namespace PagedAttention.AI.Sampling;

/// <summary>
/// The per-row parameters both samplers read (host <see cref="Sampler"/> and the device's
/// <see cref="IDeviceSampler"/>), flattened once per sequence from <see cref="SamplingParams"/>: plain values, no
/// lists, so a row is copied, not walked. The tokens masked while the output is shorter than <see cref="MinTokens"/>
/// are the sequence's end tokens (<see cref="StopChecker.EndTokenIds"/>).
/// </summary>
internal readonly record struct SamplingRow
{
    public float Temperature { get; init; }
    public int TopK { get; init; }
    public float TopP { get; init; }
    public float MinP { get; init; }
    public float RepetitionPenalty { get; init; }
    public float FrequencyPenalty { get; init; }
    public float PresencePenalty { get; init; }
    public int MinTokens { get; init; }

    /// <summary>Greedy (argmax) when the temperature is below <see cref="Sampler.GreedyEpsilon"/>.</summary>
    public bool IsGreedy => Temperature < Sampler.GreedyEpsilon;

    /// <summary>The row of <paramref name="p"/> (validated).</summary>
    public static SamplingRow From(SamplingParams p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return new SamplingRow
        {
            Temperature = p.Temperature, TopK = p.TopK, TopP = p.TopP, MinP = p.MinP,
            RepetitionPenalty = p.RepetitionPenalty, FrequencyPenalty = p.FrequencyPenalty, PresencePenalty = p.PresencePenalty,
            MinTokens = p.MinTokens,
        };
    }
}
