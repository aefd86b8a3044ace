namespace PagedAttention.AI.Chat.StructuredOutput;

/// <summary>
/// How a model's template writes a tool call, as <see cref="ToolCallParser"/> reads it back: the text around one call
/// and the name of the arguments member. A required tool call is constrained to exactly this shape, so the client's
/// parser always finds it.
/// </summary>
internal sealed record ToolCallFormat(string Name, string Open, string Close, string ArgumentsKey)
{
    /// <summary>Hermes / Qwen: <c>&lt;tool_call&gt;\n{"name": ..., "arguments": {...}}\n&lt;/tool_call&gt;</c>.</summary>
    public static ToolCallFormat Hermes { get; } = new("hermes", ToolCallParser.HermesOpen + "\n", "\n" + ToolCallParser.HermesClose, "arguments");

    /// <summary>Mistral: <c>[TOOL_CALLS][{"name": ..., "arguments": {...}}]</c>.</summary>
    public static ToolCallFormat Mistral { get; } = new("mistral", ToolCallParser.MistralMarker + "[", "]", "arguments");

    /// <summary>Llama 3.1/3.2 JSON calls: <c>{"name": ..., "parameters": {...}}</c>.</summary>
    public static ToolCallFormat Llama { get; } = new("llama", "", "", "parameters");

    /// <summary>
    /// The format a chat template uses, from the markup in its source: Mistral's <c>[TOOL_CALLS]</c>, Llama's
    /// <c>&lt;|python_tag|&gt;</c> / <c>"parameters"</c> convention, else Hermes (the ChatML family's, and the
    /// embedded model's).
    /// </summary>
    public static ToolCallFormat Detect(string templateSource)
    {
        ArgumentNullException.ThrowIfNull(templateSource);
        if (templateSource.Contains(ToolCallParser.HermesOpen, StringComparison.Ordinal)) return Hermes;
        if (templateSource.Contains(ToolCallParser.MistralMarker, StringComparison.Ordinal)) return Mistral;
        if (templateSource.Contains(ToolCallParser.PythonTag, StringComparison.Ordinal) || templateSource.Contains("\"parameters\"", StringComparison.Ordinal)) return Llama;
        return Hermes;
    }
}
