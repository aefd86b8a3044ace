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
    /// <summary><see cref="ChatOptions.AdditionalProperties"/> key: the output must match this regular expression (vLLM's guided_regex).</summary>
    public const string RegexKey = "guided_regex";

    /// <summary><see cref="ChatOptions.AdditionalProperties"/> key: the output must be one of these strings (vLLM's guided_choice).</summary>
    public const string ChoiceKey = "guided_choice";

    /// <summary>
    /// <see cref="ChatOptions.AdditionalProperties"/> key: a <c>maxLength</c> given to every string of the schema that
    /// has none (and no pattern, format, enum or const). Small models can loop inside a string until max_tokens and
    /// leave the JSON unfinished; this bounds them at the cost of the schema's own freedom. Off by default.
    /// </summary>
    public const string MaxStringLengthKey = "max_string_length";

    /// <summary>
    /// <see cref="ChatOptions.AdditionalProperties"/> key: a <c>maxItems</c> given to every array of the schema that has
    /// none, for the same reason as <see cref="MaxStringLengthKey"/>. Off by default.
    /// </summary>
    public const string MaxItemsKey = "max_items";

    /// <summary>A regular expression the whole output must match, instead of a schema.</summary>
    public string? Regex { get; init; }

    /// <summary>Strings one of which the output must be, instead of a schema.</summary>
    public IReadOnlyList<string>? Choices { get; init; }

    /// <summary>
    /// The plan for <paramref name="options"/>, or null when nothing is constrained. Required tool calls win over a
    /// response format (the model must call a tool first). Throws <see cref="ArgumentException"/> for a required
    /// tool that is not offered or a schema that is not a JSON object.
    /// </summary>
    public static ConstraintPlan? For(ChatOptions? options, ToolCallFormat format)
    {
        ArgumentNullException.ThrowIfNull(format);
        if (options is null) return null;
        var plan = Build(options, format);
        if (plan?.Schema is { } schema)
        {
            if (Positive(options, MaxStringLengthKey) is { } cap) Bound(schema, "string", "maxLength", cap);
            if (Positive(options, MaxItemsKey) is { } items) Bound(schema, "array", "maxItems", items);
        }
        return plan;
    }

    private static ConstraintPlan? Build(ChatOptions options, ToolCallFormat format)
    {
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
        if (options.AdditionalProperties is { } extra)
        {
            if (extra.TryGetValue(RegexKey, out var r) && r is not null)
            {
                string pattern = r as string ?? (r is JsonElement { ValueKind: JsonValueKind.String } e ? e.GetString()! : throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{RegexKey}\"] must be a string.", nameof(options)));
                return new ConstraintPlan(null, "", "", null, $"the regular expression '{pattern}'", null) { Regex = pattern };
            }
            if (extra.TryGetValue(ChoiceKey, out var c) && c is not null)
            {
                var choices = c switch
                {
                    IEnumerable<string> list => list.ToList(),
                    JsonElement { ValueKind: JsonValueKind.Array } a when a.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String) => a.EnumerateArray().Select(x => x.GetString()!).ToList(),
                    _ => throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{ChoiceKey}\"] must be a list of strings.", nameof(options)),
                };
                if (choices.Count == 0) throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{ChoiceKey}\"] is empty.", nameof(options));
                return new ConstraintPlan(null, "", "", null, $"one of {choices.Count} choices", null) { Choices = choices };
            }
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
            if (schema is not null) Strict(schema);
            return new ConstraintPlan(schema, "", "", null, what, MakeHint(json, schema));
        }
        if (functions.Count > 0 && format.Open.Length > 0)
            return new ConstraintPlan(AnyCall(functions, format), "", format.Close, format.Open, "a tool call the model starts", null);
        return null;
    }

    private static int? Positive(ChatOptions options, string key)
    {
        if (options.AdditionalProperties?.TryGetValue(key, out var v) != true || v is null) return null;
        int? n = v switch { int i => i, long l when l is >= 0 and <= int.MaxValue => (int)l, JsonElement { ValueKind: JsonValueKind.Number } e when e.TryGetInt32(out int j) => j, _ => null };
        return n is >= 1 ? n : throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{key}\"] must be a positive integer, got '{v}'.", nameof(options));
    }

    // Strict mode, as OpenAI's structured outputs and xgrammar's default: an object schema that lists its properties
    // and says nothing about others allows no others (JSON Schema's default would let the model invent keys); an
    // integer without bounds fits in 64 bits (what .NET, and JSON parsers generally, can take; a model may otherwise
    // write digits until max_tokens).
    private static void Strict(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                if (o.ContainsKey("properties") && !o.ContainsKey("additionalProperties") && !o.ContainsKey("patternProperties") && !o.ContainsKey("unevaluatedProperties"))
                    o["additionalProperties"] = false;
                if (IsType(o, "integer") && !o.ContainsKey("enum") && !o.ContainsKey("const"))
                {
                    if (!o.ContainsKey("minimum") && !o.ContainsKey("exclusiveMinimum")) o["minimum"] = long.MinValue;
                    if (!o.ContainsKey("maximum") && !o.ContainsKey("exclusiveMaximum")) o["maximum"] = long.MaxValue;
                }
                foreach (var (_, child) in o.ToList()) Strict(child);
                break;
            case JsonArray a:
                foreach (var child in a) Strict(child);
                break;
        }
    }

    private static bool IsType(JsonObject o, string type) =>
        o["type"] is JsonValue t && t.TryGetValue<string>(out var ts) && ts == type
        || o["type"] is JsonArray ta && ta.Any(x => x is JsonValue v && v.TryGetValue<string>(out var s) && s == type);

    // Adds keyword = cap to every schema of that type below node (properties, items, $defs, anyOf ... alike) that has
    // no bound and no shape of its own (pattern, format, enum, const).
    private static void Bound(JsonNode? node, string type, string keyword, int cap)
    {
        switch (node)
        {
            case JsonObject o:
                if (IsType(o, type) && !o.ContainsKey(keyword) && !o.ContainsKey("pattern") && !o.ContainsKey("format") && !o.ContainsKey("enum") && !o.ContainsKey("const"))
                    o[keyword] = cap;
                foreach (var (_, child) in o.ToList()) Bound(child, type, keyword, cap);
                break;
            case JsonArray a:
                foreach (var child in a) Bound(child, type, keyword, cap);
                break;
        }
    }

    // {"name": <const>, "arguments": <the tool's parameter schema>}: what ToolCallParser reads back as one call.
    private static JsonObject CallSchema(AIFunctionDeclaration f, ToolCallFormat format)
    {
        JsonNode parameters = f.JsonSchema.ValueKind == JsonValueKind.Object ? JsonNode.Parse(f.JsonSchema.GetRawText())! : new JsonObject { ["type"] = "object" };
        Strict(parameters);
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
