namespace PagedAttention.AI.Sampling;

/// <summary>
/// A sampler that runs on the device with the forward pass, so only token ids come back (the CUDA backend's). The
/// step loop sets one row per scheduled sequence before the launch; rows left unset are greedy.
/// </summary>
internal interface IDeviceSampler
{
    /// <summary>Starts a step of <paramref name="rows"/> rows, all greedy until set.</summary>
    void Begin(int rows);

    /// <summary>
    /// Sets one row: its parameters, its random stream (<paramref name="key"/>, counted by <paramref name="step"/>,
    /// the output position), the tokens its penalties look at, and the tokens masked while the output is shorter
    /// than <see cref="SamplingRow.MinTokens"/>.
    /// </summary>
    void SetRow(int row, in SamplingRow p, ulong key, int step, ReadOnlySpan<int> prompt, ReadOnlySpan<int> output, ReadOnlySpan<int> endTokenIds);

    /// <summary>
    /// Constrains a row set with <see cref="SetRow"/> to what <paramref name="constraint"/> allows next; the device
    /// computes the mask when it launches the step's sampling, after the forward pass is queued, so the mask work
    /// overlaps the forward pass.
    /// </summary>
    void SetConstraint(int row, ITokenConstraint constraint);

    /// <summary>
    /// The id a constrained row gets when its mask allows nothing: not a token (and not -1, "sample on the host");
    /// the request is failed. A device's kernels must write this value (CudaSampler checks it at compile time).
    /// </summary>
    const int EmptyMaskToken = -2;
}
