using PagedAttention.AI.Sampling;

namespace PagedAttention.AI.Chat.StructuredOutput;

/// <summary>A piece of a <see cref="SequenceConstraint"/>: a constraint that can say whether it could end here.</summary>
internal interface IPartConstraint : ITokenConstraint
{
    /// <summary>What was accepted so far is complete, though more may follow.</summary>
    bool IsAccepting { get; }

    /// <summary>The end tokens (eos) this part's mask allows where it may end.</summary>
    ReadOnlySpan<int> EndTokens { get; }
}
