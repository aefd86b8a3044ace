namespace PagedAttention.AI.Constraints;

/// <summary>
/// One state of the lazy lexer DFA: the set of (lexeme, remaining regex) pairs still alive after the bytes read so
/// far in the current lexeme. Transitions are filled on first use (<see cref="LexerDfa.Next"/>); a filled entry never
/// changes, so readers on other threads need no lock — a reference load publishes the state it points to.
/// </summary>
internal sealed class LexerState
{
    internal readonly LexerState?[] Next;

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
}
