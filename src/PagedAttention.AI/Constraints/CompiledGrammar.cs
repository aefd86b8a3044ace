namespace PagedAttention.AI.Constraints;

/// <summary>
/// A grammar ready for one vocabulary: the grammar, its lazily built lexer DFA (shared, thread-safe) and the
/// vocabulary's token trie. Immutable apart from the DFA's caches; create one <see cref="TokenMatcher"/> per
/// sequence. Get one from <see cref="GrammarCache"/> (or <see cref="Create"/>).
/// </summary>
internal sealed class CompiledGrammar
{
    private CompiledGrammar(Grammar grammar, TokenVocabulary vocabulary)
    {
        Grammar = grammar;
        Vocabulary = vocabulary;
        Lexer = new LexerDfa(grammar.Exprs, grammar.LexemeExprs);
    }

    public Grammar Grammar { get; }

    public LexerDfa Lexer { get; }

    public TokenVocabulary Vocabulary { get; }

    public static CompiledGrammar Create(Grammar grammar, TokenVocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(grammar);
        ArgumentNullException.ThrowIfNull(vocabulary);
        return new CompiledGrammar(grammar, vocabulary);
    }

    /// <summary>A matcher at the start of the grammar, for one sequence.</summary>
    public TokenMatcher CreateMatcher() => new(this);
}
