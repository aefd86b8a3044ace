using System.Text.Json;
using Microsoft.Extensions.AI;

namespace PagedAttention.Server.Protocol;

/// <summary>
/// A parsed <c>POST /v1/chat/completions</c> body: messages as Microsoft.Extensions.AI <see cref="ChatMessage"/>s and
/// tools, tool_choice and response_format as <see cref="ChatOptions"/> — the chat client's own request shape, so the
/// template, the prompt-injection guard, structured output and tool-call parsing are the IChatClient's.
/// </summary>
internal sealed class ChatRequest
{
    /// <summary>Most top logprobs (OpenAI's limit).</summary>
    public const int MaxTopLogprobs = 20;

    public required CommonRequest Common { get; init; }
    public required List<ChatMessage> Messages { get; init; }
    public required ChatOptions Options { get; init; }
    public bool Logprobs { get; init; }
    public int TopLogprobs { get; init; }

    public static ChatRequest Parse(JsonElement body, int maxN, int vocab)
    {
        var common = CommonRequest.Parse(body, maxN, vocab, "max_completion_tokens");
        bool logprobs = Fields.Bool(body, "logprobs") ?? false;
        var top = Fields.Integer(body, "top_logprobs", 0, MaxTopLogprobs);
        if (top is not null && !logprobs) throw OpenAIException.Invalid("top_logprobs", "'top_logprobs' requires \"logprobs\": true.");

        var messages = ParseMessages(body);
        var options = new ChatOptions
        {
            Temperature = common.Temperature,
            TopP = common.TopP,
            TopK = common.TopK,
            PresencePenalty = common.PresencePenalty,
            FrequencyPenalty = common.FrequencyPenalty,
            Seed = common.Seed,
            MaxOutputTokens = common.MaxTokens,
            StopSequences = common.Stop,
            AdditionalProperties = [],
        };
        var extra = options.AdditionalProperties;
        if (common.MinP is { } minP) extra["min_p"] = minP;
        if (common.RepetitionPenalty is { } rp) extra["repetition_penalty"] = rp;
        if (common.MinTokens is { } mt) extra["min_tokens"] = mt;
        if (common.IgnoreEos) extra["ignore_eos"] = true;
        if (common.StopTokenIds is { } ids) extra["stop_token_ids"] = ids;
        if (logprobs) extra["logprobs"] = Math.Max(1, (int)(top ?? 0)); // the engine needs >= 1 to return the sampled token's logprob
        // vLLM's guided decoding extras, the structured-output bounds and beam search (beam_width with n <= beam_width:
        // the n best beams as the n choices) go to the chat client as they are.
        foreach (var key in (string[])["guided_regex", "guided_choice", "max_string_length", "max_items", "beam_width", "length_penalty", "early_stopping"])
            if (Fields.Has(body, key, out var v)) extra[key] = v.Clone();

        ParseTools(body, options);
        ParseResponseFormat(body, options);
        return new ChatRequest { Common = common, Messages = messages, Options = options, Logprobs = logprobs, TopLogprobs = (int)(top ?? 0) };
    }

    private static List<ChatMessage> ParseMessages(JsonElement body)
    {
        var array = Fields.Array(body, "messages") ?? throw OpenAIException.Invalid("messages", "'messages' is required.");
        if (array.GetArrayLength() == 0) throw OpenAIException.Invalid("messages", "'messages' must not be empty.");
        var list = new List<ChatMessage>();
        int i = 0;
        foreach (var m in array.EnumerateArray())
        {
            string at = $"messages[{i++}]";
            if (m.ValueKind != JsonValueKind.Object) throw OpenAIException.Invalid(at, $"'{at}' must be an object.");
            string role = Fields.String(m, "role") ?? throw OpenAIException.Invalid($"{at}.role", $"'{at}.role' is required.");
            list.Add(role switch
            {
                "system" or "developer" => new ChatMessage(ChatRole.System, Content(m, at, required: true)),
                "user" => new ChatMessage(ChatRole.User, Content(m, at, required: true)),
                "assistant" => Assistant(m, at),
                "tool" => Tool(m, at),
                _ => throw OpenAIException.Invalid($"{at}.role", $"'{at}.role' must be one of system, developer, user, assistant, tool; got '{role}'."),
            });
        }
        return list;
    }

    private static List<AIContent> Content(JsonElement m, string at, bool required)
    {
        if (!Fields.Has(m, "content", out var c))
            return required ? throw OpenAIException.Invalid($"{at}.content", $"'{at}.content' is required.") : [];
        if (c.ValueKind == JsonValueKind.String) return [new TextContent(Fields.Text(c, $"{at}.content"))];
        if (c.ValueKind != JsonValueKind.Array) throw OpenAIException.Invalid($"{at}.content", $"'{at}.content' must be a string or a list of content parts.");
        var parts = new List<AIContent>();
        int j = 0;
        foreach (var p in c.EnumerateArray())
        {
            string pat = $"{at}.content[{j++}]";
            if (p.ValueKind != JsonValueKind.Object) throw OpenAIException.Invalid(pat, $"'{pat}' must be a content part object.");
            string type = Fields.String(p, "type") ?? throw OpenAIException.Invalid($"{pat}.type", $"'{pat}.type' is required.");
            if (type is "image_url" or "input_audio" or "file" or "input_image" or "video_url")
                throw OpenAIException.Invalid($"{pat}.type", $"Content parts of type '{type}' are not supported: the model reads text only.");
            if (type != "text") throw OpenAIException.Invalid($"{pat}.type", $"Unknown content part type '{type}'; expected 'text'.");
            parts.Add(new TextContent(Fields.String(p, "text") ?? throw OpenAIException.Invalid($"{pat}.text", $"'{pat}.text' is required.")));
        }
        return parts;
    }

    private static ChatMessage Assistant(JsonElement m, string at)
    {
        var contents = Content(m, at, required: false);
        if (Fields.Array(m, "tool_calls") is { } calls)
        {
            int k = 0;
            foreach (var call in calls.EnumerateArray())
            {
                string cat = $"{at}.tool_calls[{k++}]";
                if (call.ValueKind != JsonValueKind.Object) throw OpenAIException.Invalid(cat, $"'{cat}' must be an object.");
                string id = Fields.String(call, "id") ?? throw OpenAIException.Invalid($"{cat}.id", $"'{cat}.id' is required.");
                var fn = Fields.Object(call, "function") ?? throw OpenAIException.Invalid($"{cat}.function", $"'{cat}.function' is required.");
                string name = Fields.String(fn, "name") ?? throw OpenAIException.Invalid($"{cat}.function.name", $"'{cat}.function.name' is required.");
                string args = Fields.String(fn, "arguments") ?? "{}";
                Dictionary<string, object?>? parsed;
                try { parsed = JsonSerializer.Deserialize<Dictionary<string, object?>>(args.Length == 0 ? "{}" : args); }
                catch (JsonException) { throw OpenAIException.Invalid($"{cat}.function.arguments", $"'{cat}.function.arguments' must be a JSON object in a string."); }
                contents.Add(new FunctionCallContent(id, name, parsed));
            }
        }
        else if (contents.Count == 0) throw OpenAIException.Invalid($"{at}.content", $"'{at}.content' is required unless 'tool_calls' is given.");
        return new ChatMessage(ChatRole.Assistant, contents);
    }

    private static ChatMessage Tool(JsonElement m, string at)
    {
        string callId = Fields.String(m, "tool_call_id") ?? throw OpenAIException.Invalid($"{at}.tool_call_id", $"'{at}.tool_call_id' is required for a tool message.");
        var text = string.Concat(Content(m, at, required: true).OfType<TextContent>().Select(t => t.Text));
        return new ChatMessage(ChatRole.Tool, [new FunctionResultContent(callId, text)]);
    }

    private static void ParseTools(JsonElement body, ChatOptions options)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (Fields.Array(body, "tools") is { } tools)
        {
            var list = new List<AITool>();
            int i = 0;
            foreach (var t in tools.EnumerateArray())
            {
                string at = $"tools[{i++}]";
                if (t.ValueKind != JsonValueKind.Object) throw OpenAIException.Invalid(at, $"'{at}' must be an object.");
                if (Fields.String(t, "type") is not "function") throw OpenAIException.Invalid($"{at}.type", $"'{at}.type' must be \"function\".");
                var fn = Fields.Object(t, "function") ?? throw OpenAIException.Invalid($"{at}.function", $"'{at}.function' is required.");
                string name = Fields.String(fn, "name") ?? throw OpenAIException.Invalid($"{at}.function.name", $"'{at}.function.name' is required.");
                if (name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
                    throw OpenAIException.Invalid($"{at}.function.name", $"'{at}.function.name' must be 1 to 64 characters of a-z, A-Z, 0-9, _ and -.");
                if (!names.Add(name)) throw OpenAIException.Invalid($"{at}.function.name", $"Tool '{name}' is defined twice.");
                var parameters = Fields.Object(fn, "parameters")?.Clone() ?? JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement.Clone();
                list.Add(AIFunctionFactory.CreateDeclaration(name, Fields.String(fn, "description"), parameters));
            }
            if (list.Count > 0) options.Tools = list;
        }
        if (!Fields.Has(body, "tool_choice", out var choice)) return;
        if (choice.ValueKind == JsonValueKind.String)
        {
            options.ToolMode = Fields.Text(choice, "tool_choice") switch
            {
                "none" => ChatToolMode.None,
                "auto" => ChatToolMode.Auto,
                "required" => names.Count > 0 ? ChatToolMode.RequireAny : throw OpenAIException.Invalid("tool_choice", "\"tool_choice\": \"required\" needs 'tools'."),
                var s => throw OpenAIException.Invalid("tool_choice", $"'tool_choice' must be none, auto, required or a named function, got '{s}'."),
            };
            return;
        }
        if (choice.ValueKind != JsonValueKind.Object || Fields.Object(choice, "function") is not { } f || Fields.String(f, "name") is not { } fname)
            throw OpenAIException.Invalid("tool_choice", "'tool_choice' must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ...}}.");
        if (!names.Contains(fname)) throw OpenAIException.Invalid("tool_choice", $"'tool_choice' names the function '{fname}', which is not in 'tools'.");
        options.ToolMode = ChatToolMode.RequireSpecific(fname);
    }

    private static void ParseResponseFormat(JsonElement body, ChatOptions options)
    {
        if (Fields.Has(body, "guided_json", out var guided))
        {
            if (guided.ValueKind != JsonValueKind.Object) throw OpenAIException.Invalid("guided_json", "'guided_json' must be a JSON schema object.");
            options.ResponseFormat = ChatResponseFormat.ForJsonSchema(guided.Clone());
        }
        if (Fields.Object(body, "response_format") is not { } rf) return;
        switch (Fields.String(rf, "type"))
        {
            case "text": break;
            case "json_object": options.ResponseFormat = ChatResponseFormat.Json; break;
            case "json_schema":
                var js = Fields.Object(rf, "json_schema") ?? throw OpenAIException.Invalid("response_format.json_schema", "'response_format.json_schema' is required for type json_schema.");
                var schema = Fields.Object(js, "schema") ?? throw OpenAIException.Invalid("response_format.json_schema.schema", "'response_format.json_schema.schema' is required.");
                options.ResponseFormat = ChatResponseFormat.ForJsonSchema(schema.Clone(), Fields.String(js, "name"), Fields.String(js, "description"));
                break;
            case var t: throw OpenAIException.Invalid("response_format.type", $"'response_format.type' must be text, json_object or json_schema, got '{t}'.");
        }
    }
}
