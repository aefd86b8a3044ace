using PagedAttention.AI.Constraints;
using PagedAttention.AI.Sampling;

namespace PagedAttention.AI.Chat.StructuredOutput;

/// <summary>
/// A compiled grammar's matcher as the step loop sees it. The mask covers the model's logits, which may be wider
/// than the tokenizer's vocabulary (Qwen3: 151,936 logits, 151,669 tokens): the extra ids are never allowed.
/// </summary>
internal sealed class GrammarConstraint(TokenMatcher matcher, string description) : IPartConstraint
{
    public string Description => description;

    public void FillMask(Span<uint> allowed) => matcher.ComputeMask(allowed);

    public bool Accept(int token) => matcher.TryConsume(token);

    public bool IsAccepting => matcher.IsAccepting;

    public bool IsComplete => matcher.IsStopped;

    public ReadOnlySpan<int> EndTokens => matcher.Grammar.Vocabulary.EosTokens;
}
