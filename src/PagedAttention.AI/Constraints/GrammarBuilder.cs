namespace PagedAttention.AI.Constraints;

/// <summary>
/// Builds a <see cref="Grammar"/>: nonterminals with rules whose right-hand sides mix nonterminals and lexemes
/// (byte regexes in the shared <see cref="ExprSet"/>). A symbol is an int: a nonterminal id (≥ 0) or <c>~lexeme</c>
/// (&lt; 0), see <see cref="Lex"/>. Lexemes with the same regex are one lexeme, so that where two parts of a grammar
/// expect the same text the lexer reports it once and the parser advances both.
/// </summary>
internal sealed class GrammarBuilder
{
    private readonly List<int> _lexemeExprs = [];
    private readonly List<string> _lexemeNames = [];
    private readonly Dictionary<int, int> _lexemeByExpr = new();
    private readonly List<string> _ntNames = [];
    private readonly List<(int Lhs, int[] Rhs)> _rules = [];

    public ExprSet Exprs { get; } = new();

    public int LexemeCount => _lexemeExprs.Count;

    public int NonterminalCount => _ntNames.Count;

    public int RuleCount => _rules.Count;

    /// <summary>The symbol of a lexeme id.</summary>
    public static int Lex(int lexeme) => ~lexeme;

    /// <summary>A lexeme for a regex (must not match the empty string: lexemes are never empty). Returns its symbol.</summary>
    public int Lexeme(int expr, string name)
    {
        if (expr == ExprSet.Nothing) throw new ArgumentException($"lexeme '{name}' matches nothing");
        if (Exprs.IsNullable(expr)) throw new ArgumentException($"lexeme '{name}' matches the empty string");
        if (!_lexemeByExpr.TryGetValue(expr, out int id))
        {
            id = _lexemeExprs.Count;
            _lexemeExprs.Add(expr);
            _lexemeNames.Add(name);
            _lexemeByExpr.Add(expr, id);
        }
        return Lex(id);
    }

    public int Literal(string text) => Lexeme(Exprs.Literal(text), text);

    public int Nonterminal(string name)
    {
        _ntNames.Add(name);
        return _ntNames.Count - 1;
    }

    public void Rule(int lhs, params int[] rhs)
    {
        if ((uint)lhs >= (uint)_ntNames.Count) throw new ArgumentOutOfRangeException(nameof(lhs));
        _rules.Add((lhs, rhs));
    }

    /// <summary>Freezes the grammar with <paramref name="start"/> as its start symbol.</summary>
    /// <exception cref="ArgumentException">The start symbol derives no string.</exception>
    public Grammar Build(int start) => Grammar.Create(_ntNames, _rules, _lexemeExprs, _lexemeNames, start, Exprs);
}
