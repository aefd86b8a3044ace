namespace PagedAttention.AI.Sampling;

/// <summary>When beam search stops, as transformers' <c>early_stopping</c> (<see cref="SamplingParams.EarlyStopping"/>).</summary>
public enum BeamEarlyStopping
{
    /// <summary>
    /// transformers' <c>early_stopping=False</c> (the default): stop once the best running beam, scored at its current
    /// length, cannot beat the worst of the <see cref="SamplingParams.BeamWidth"/> finished hypotheses.
    /// </summary>
    Heuristic = 0,

    /// <summary>transformers' <c>early_stopping=True</c>: stop as soon as there are <see cref="SamplingParams.BeamWidth"/> finished hypotheses.</summary>
    WhenFull = 1,

    /// <summary>
    /// transformers' <c>early_stopping="never"</c>: the canonical rule — with a positive length penalty the best running
    /// beam is scored at the longest length it could reach, so the search stops only when no beam can improve.
    /// </summary>
    Never = 2,
}
