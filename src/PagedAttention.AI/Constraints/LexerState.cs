namespace PagedAttention.AI.Constraints;

/// <summary>
/// One state of the lazy lexer DFA: the set of (lexeme, remaining regex) pairs still alive after the bytes read so
/// far in the current lexeme. Transitions are filled on first use (<see cref="LexerDfa.Next"/>); a filled entry never
/// changes, so readers on other threads need no lock — a reference load publishes the state it points to.
/// </summary>
internal sealed class LexerState
{
    internal readonly LexerState?[] Next;

    // 0 = not yet known, 1 = no plain JSON-string text can kill this state (the slicer applies), 2 = some can.
    internal int SliceLoop;

    // -1 = not yet known; else the largest n (capped at LexerDfa.MaxPlainDepth) such that every string of at most n
    // plain characters keeps this state alive.
    internal int PlainDepth = -1;

    // -1 = not yet known; else a lower bound (capped at 127) on the n such that every word (ASCII letters and digits)
    // of at most n characters keeps this state alive.
    internal int WordDepth = -1;

    // -1 = not yet known; else ExprSet.PlainUpperBound over the items (127 = unknown).
    internal int PlainUpper = -1;

    // int.MinValue = not yet known; else the largest ExprSet.StringRoom over the items, -1 when some item has
    // another shape.
    internal int StringRoom = int.MinValue;

    internal LexerState(int id, (int Lexeme, int Expr)[] items, int[] accepting, bool canContinue, int classes)
    {
        Id = id;
        Items = items;
        Accepting = accepting;
        CanContinue = canContinue;
        Next = new LexerState?[classes];
    }

    public int Id { get; }

    /// <summary>The live (lexeme, derivative) pairs, sorted by lexeme.</summary>
    public (int Lexeme, int Expr)[] Items { get; }

    /// <summary>Lexemes complete here (their derivative accepts the empty string), ascending.</summary>
    public int[] Accepting { get; }

    /// <summary>Some lexeme can still grow: a further byte may be accepted.</summary>
    public bool CanContinue { get; }

    public bool IsDead => Items.Length == 0;

    /// <summary>Bytes with a live transition (every other byte leads to the dead state).</summary>
    internal ByteSet First;
}
