namespace PagedAttention.AI.Sampling;

/// <summary>
/// What a grammar (structured output, a required tool call) looks like to the step loop: one per sequence, asked
/// for the set of tokens that may come next and told the token that came. The engine masks the logits with
/// <see cref="FillMask"/> before any other sampling rule, feeds every sampled token to <see cref="Accept"/>, and
/// finishes the sequence with <c>FinishReason.Stop</c> once <see cref="IsComplete"/>. Called on one thread at a time
/// (the step loop, or a mask worker while the loop waits), never concurrently for one sequence.
/// </summary>
internal interface ITokenConstraint
{
    /// <summary>What the constraint is, for error messages (e.g. "JSON schema 'Person'").</summary>
    string Description { get; }

    /// <summary>
    /// Writes the tokens allowed next: <see cref="Sampler.MaskWords"/>(vocab) words, bit <c>t % 32</c> of word
    /// <c>t / 32</c> set = token t allowed. End tokens are allowed only where the constraint may end.
    /// </summary>
    void FillMask(Span<uint> allowed);

    /// <summary>Advances past <paramref name="token"/>; false when the token was not allowed (the request fails).</summary>
    bool Accept(int token);

    /// <summary>The constrained text is complete and nothing can follow: the sequence ends here.</summary>
    bool IsComplete { get; }

    /// <summary>
    /// Whether the next token is constrained at all. False (an optional tool call whose opening marker has not been
    /// written yet) makes the step treat the row as unconstrained: no mask is computed, uploaded or applied, and
    /// <see cref="Accept"/> is still called with the token sampled.
    /// </summary>
    bool ConstrainsNext => true;
}
