namespace PagedAttention.AI.Constraints;

/// <summary>
/// A schema (or pattern) the grammar compiler does not support or that no instance can satisfy. Names the keyword
/// and the JSON pointer of the schema that holds it, e.g. <c>keyword 'patternProperties' at '#/properties/a'</c>:
/// an unsupported keyword is never ignored, because a grammar that ignores a constraint produces invalid output.
/// </summary>
internal sealed class GrammarCompileException : ArgumentException
{
    public GrammarCompileException(string keyword, string pointer, string problem, Exception? inner = null)
        : base($"JSON schema: keyword '{keyword}' at '{pointer}': {problem}", inner)
    {
        Keyword = keyword;
        Pointer = pointer;
    }

    public string Keyword { get; }

    public string Pointer { get; }
}
