namespace PagedAttention.AI.Chat.StructuredOutput;

/// <summary>
/// Parts one after the other (a literal opening, a JSON grammar, a literal closing). Where the current part could end
/// but might also go on (a JSON value followed by optional whitespace), the next part's first tokens are allowed too
/// and the current part's end tokens are not (the sequence does not end there); a token the current part refuses but
/// the next accepts moves on. Complete when the last part is.
/// </summary>
internal sealed class SequenceConstraint : IPartConstraint
{
    private readonly IPartConstraint[] _parts;
    private readonly uint[] _scratch;
    private int _current;

    public SequenceConstraint(IPartConstraint[] parts, int maskWords)
    {
        if (parts.Length == 0) throw new ArgumentException("A sequence needs at least one part.", nameof(parts));
        _parts = parts;
        _scratch = new uint[maskWords];
        Skip();
    }

    public string Description => string.Join(", then ", _parts.Select(p => p.Description));

    private bool IsLast => _current == _parts.Length - 1;

    public void FillMask(Span<uint> allowed)
    {
        var part = _parts[_current];
        part.FillMask(allowed);
        if (IsLast || !part.IsAccepting) return;
        foreach (int t in part.EndTokens) allowed[t >> 5] &= ~(1u << (t & 31));
        _parts[_current + 1].FillMask(_scratch);
        for (int w = 0; w < allowed.Length; w++) allowed[w] |= _scratch[w];
    }

    public bool Accept(int token)
    {
        var part = _parts[_current];
        bool endToken = !IsLast && part.EndTokens.IndexOf(token) >= 0;
        if (!endToken && part.Accept(token)) { Skip(); return true; }
        if (IsLast || !part.IsAccepting) return false;
        _current++;
        if (!_parts[_current].Accept(token)) return false;
        Skip();
        return true;
    }

    // Past parts that are complete (nothing more can follow them).
    private void Skip()
    {
        while (!IsLast && _parts[_current].IsComplete) _current++;
    }

    public bool IsAccepting => IsLast && _parts[_current].IsAccepting;

    public bool IsComplete => IsLast && _parts[_current].IsComplete;

    public ReadOnlySpan<int> EndTokens => IsLast ? _parts[_current].EndTokens : [];
}
