namespace PagedAttention.AI.Constraints;

/// <summary>
/// A parsed pattern at the character level (what <see cref="RegexParser"/> produces): classes of scalar values,
/// concatenation, alternation, bounded or unbounded repetition. <see cref="RegexLowering"/> turns it into byte-level
/// <see cref="ExprSet"/> nodes, either as raw UTF-8 or as the inside of a JSON string literal.
/// </summary>
internal abstract record RegexNode
{
    public sealed record Class(CodepointSet Set) : RegexNode;

    public sealed record Seq(IReadOnlyList<RegexNode> Items) : RegexNode;

    public sealed record Alt(IReadOnlyList<RegexNode> Items) : RegexNode;

    /// <summary>Max = -1 for no upper bound.</summary>
    public sealed record Repeat(RegexNode Item, int Min, int Max) : RegexNode;

    public static readonly RegexNode Epsilon = new Seq([]);
}

/// <summary>A pattern after parsing: the body plus whether it was anchored at each end (search semantics otherwise).</summary>
internal sealed record ParsedPattern(RegexNode Body, bool AnchoredStart, bool AnchoredEnd);
