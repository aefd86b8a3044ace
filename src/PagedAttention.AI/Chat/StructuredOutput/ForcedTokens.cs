namespace PagedAttention.AI.Chat.StructuredOutput;

/// <summary>
/// Literal text the output must contain, as the tokenizer encodes it (e.g. <c>&lt;tool_call&gt;\n</c>: the special
/// token, then the newline): exactly one token is allowed at each position. Special tokens are allowed here because
/// the constraint names them.
/// </summary>
internal sealed class ForcedTokens(int[] tokens, string text) : IPartConstraint
{
    private int _next;

    public string Description => $"the literal '{text.ReplaceLineEndings("\\n")}'";

    public void FillMask(Span<uint> allowed)
    {
        allowed.Clear();
        if (_next < tokens.Length) allowed[tokens[_next] >> 5] |= 1u << (tokens[_next] & 31);
    }

    public bool Accept(int token)
    {
        if (_next >= tokens.Length || tokens[_next] != token) return false;
        _next++;
        return true;
    }

    public bool IsAccepting => _next == tokens.Length;

    public bool IsComplete => _next == tokens.Length;

    public ReadOnlySpan<int> EndTokens => [];
}
