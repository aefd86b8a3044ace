namespace PagedAttention.AI.Constraints;

/// <summary>
/// The front door: builds the tokenizer-independent <see cref="Grammar"/> for each kind of constraint the engine
/// offers (vLLM's guided_json / guided_regex / guided_choice and JSON mode). Compile it for a vocabulary with
/// <see cref="CompiledGrammar.Create"/> or, cached, <see cref="GrammarCache.GetOrCompile"/>.
/// </summary>
internal static class Constraint
{
    /// <summary>JSON valid under the schema. <exception cref="GrammarCompileException">unsupported keyword or unsatisfiable schema</exception></summary>
    public static Grammar JsonSchema(string schema, JsonGrammarOptions? options = null) => JsonSchemaCompiler.Compile(schema, options);

    /// <summary>Any JSON value, or any JSON object with <paramref name="objectOnly"/> (OpenAI's json_object).</summary>
    public static Grammar AnyJson(bool objectOnly = true, JsonGrammarOptions? options = null) => JsonSchemaCompiler.AnyJson(objectOnly, options);

    /// <summary>Output that matches the pattern as a whole (ECMA subset; implicit ^...$). <exception cref="RegexParseException">unsupported syntax</exception></summary>
    public static Grammar Regex(string pattern)
    {
        var p = RegexParser.Parse(pattern);
        var b = new GrammarBuilder();
        int e = RegexLowering.Raw(b.Exprs, p with { AnchoredStart = true, AnchoredEnd = true });
        return Single(b, e, "regex", pattern);
    }

    /// <summary>Exactly one of the given strings.</summary>
    public static Grammar Choice(IEnumerable<string> choices)
    {
        ArgumentNullException.ThrowIfNull(choices);
        var b = new GrammarBuilder();
        var list = choices.ToList();
        if (list.Count == 0) throw new ArgumentException("at least one choice is needed", nameof(choices));
        int e = b.Exprs.Or(list.Select(b.Exprs.Literal));
        return Single(b, e, "choice", string.Join("|", list));
    }

    // One lexeme; a pattern that accepts the empty string becomes "lexeme or nothing" (lexemes are never empty).
    private static Grammar Single(GrammarBuilder b, int expr, string kind, string what)
    {
        if (expr == ExprSet.Nothing) throw new ArgumentException($"{kind} '{what}' matches nothing");
        int start = b.Nonterminal(kind);
        bool empty = b.Exprs.IsNullable(expr);
        int nonEmpty = NonEmpty(b.Exprs, expr);
        if (nonEmpty != ExprSet.Nothing) b.Rule(start, b.Lexeme(nonEmpty, kind));
        if (empty) b.Rule(start);
        return b.Build(start);
    }

    // The language minus the empty string: d/db for each first byte, re-prefixed.
    private static int NonEmpty(ExprSet x, int e)
    {
        if (!x.IsNullable(e)) return e;
        var parts = new List<int>();
        for (int b = 0; b < 256; b++)
        {
            int d = x.Derive(e, (byte)b);
            if (d != ExprSet.Nothing) parts.Add(x.Concat(x.Byte((byte)b), d));
        }
        return x.Or(parts);
    }
}
