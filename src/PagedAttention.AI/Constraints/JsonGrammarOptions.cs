namespace PagedAttention.AI.Constraints;

/// <summary>How JSON grammars are generated; part of the compiled-grammar cache key.</summary>
internal sealed record JsonGrammarOptions
{
    /// <summary>
    /// Most whitespace characters allowed in a row between JSON tokens (0 = compact JSON only). Bounded so that a
    /// model cannot loop on spaces until max_tokens (vLLM's proposed cap is 8).
    /// </summary>
    public int MaxWhitespace { get; init; } = 4;

    /// <summary>
    /// Read the schema as draft 4 (the JSON-Schema-Test-Suite package we pin has only draft 3/4): boolean
    /// exclusiveMinimum/Maximum, array-form items with additionalItems, <c>$ref</c> overriding its siblings.
    /// </summary>
    public bool Draft4 { get; init; }

    /// <summary>Largest number of array positions or object properties unrolled into grammar rules.</summary>
    public int MaxUnroll { get; init; } = 2000;

    public static JsonGrammarOptions Default { get; } = new();
}
