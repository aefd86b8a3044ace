using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace PagedAttention.AI.Chat.StructuredOutput;

/// <summary>
/// What a chat request asks to be constrained, before any grammar is compiled: a JSON schema (null: any JSON object)
/// between literal <see cref="Prefix"/> and <see cref="Suffix"/> text; from the first output token, or — with a
/// <see cref="Trigger"/> — only once the model has written the trigger (an optional tool call in Auto mode), again at
/// every later occurrence. <see cref="Hint"/> is what the prompt shows the model so that it knows what to write.
/// </summary>
internal sealed record ConstraintPlan(JsonNode? Schema, string Prefix, string Suffix, string? Trigger, string Description, string? Hint)
{
    /// <summary>
    /// The plan for <paramref name="options"/>, or null when nothing is constrained. Required tool calls win over a
    /// response format (the model must call a tool first). Throws <see cref="ArgumentException"/> for a required
    /// tool that is not offered or a schema that is not a JSON object.
    /// </summary>
    public static ConstraintPlan? For(ChatOptions? options, ToolCallFormat format)
    {
        ArgumentNullException.ThrowIfNull(format);
        if (options is null) return null;
        var functions = options.ToolMode is NoneChatToolMode ? [] : (options.Tools ?? []).OfType<AIFunctionDeclaration>().ToList();
        if (options.ToolMode is RequiredChatToolMode required && functions.Count > 0)
        {
            if (required.RequiredFunctionName is { } name)
            {
                var f = functions.FirstOrDefault(x => x.Name == name)
                    ?? throw new ArgumentException($"ChatOptions.ToolMode requires the function '{name}', which is not among ChatOptions.Tools ({string.Join(", ", functions.Select(x => x.Name))}).", nameof(options));
                return new ConstraintPlan(CallSchema(f, format), format.Open, format.Close, null, $"a call of the tool '{name}'", null);
            }
            return new ConstraintPlan(AnyCall(functions, format), format.Open, format.Close, null, $"a call of one of the tools {string.Join(", ", functions.Select(x => "'" + x.Name + "'"))}", null);
        }
        if (options.ResponseFormat is ChatResponseFormatJson json)
        {
            JsonNode? schema = null;
            if (json.Schema is { } s)
            {
                if (s.ValueKind is not (JsonValueKind.Object or JsonValueKind.True))
                    throw new ArgumentException($"ChatResponseFormat's JSON schema must be an object, not {s.ValueKind}.", nameof(options));
                schema = JsonNode.Parse(s.GetRawText());
            }
            string what = json.SchemaName is { Length: > 0 } n ? $"the JSON schema '{n}'" : schema is null ? "a JSON object" : "the response's JSON schema";
            return new ConstraintPlan(schema, "", "", null, what, MakeHint(json, schema));
        }
        if (functions.Count > 0 && format.Open.Length > 0)
            return new ConstraintPlan(AnyCall(functions, format), "", format.Close, format.Open, "a tool call the model starts", null);
        return null;
    }

    // {"name": <const>, "arguments": <the tool's parameter schema>}: what ToolCallParser reads back as one call.
    private static JsonObject CallSchema(AIFunctionDeclaration f, ToolCallFormat format)
    {
        JsonNode parameters = f.JsonSchema.ValueKind == JsonValueKind.Object ? JsonNode.Parse(f.JsonSchema.GetRawText())! : new JsonObject { ["type"] = "object" };
        return new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject { ["name"] = new JsonObject { ["const"] = f.Name }, [format.ArgumentsKey] = parameters },
            ["required"] = new JsonArray("name", format.ArgumentsKey),
            ["additionalProperties"] = false,
        };
    }

    private static JsonObject AnyCall(List<AIFunctionDeclaration> functions, ToolCallFormat format) =>
        functions.Count == 1 ? CallSchema(functions[0], format) : new JsonObject { ["anyOf"] = new JsonArray([.. functions.Select(f => (JsonNode)CallSchema(f, format))]) };

    // Shown to the model at the end of the system prompt: constrained decoding guarantees the shape, the hint makes
    // the content meaningful (a model that is not told the schema fills it with whatever the mask lets through).
    private static string MakeHint(ChatResponseFormatJson json, JsonNode? schema)
    {
        if (schema is null) return "Respond with a JSON object.";
        string about = json.SchemaDescription is { Length: > 0 } d ? $" ({d})" : "";
        return $"Respond with a JSON object{about} that matches this JSON schema:\n{schema.ToJsonString()}";
    }
}
