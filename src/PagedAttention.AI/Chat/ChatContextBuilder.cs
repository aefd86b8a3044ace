using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace PagedAttention.AI.Chat;

/// <summary>
/// Builds the context a Hugging Face chat template renders, from Microsoft.Extensions.AI messages and options, the
/// way transformers' <c>apply_chat_template</c> receives OpenAI-style messages: <c>messages</c> (role, content,
/// tool_calls, tool_call_id), <c>tools</c>, <c>add_generation_prompt</c>, <c>bos_token</c>/<c>eos_token</c>, and
/// <c>enable_thinking</c> when <see cref="ChatOptions.Reasoning"/> is set.
/// </summary>
internal static class ChatContextBuilder
{
    /// <param name="messages">The conversation.</param>
    /// <param name="options">The request's options.</param>
    /// <param name="bosToken">The tokenizer's BOS text.</param>
    /// <param name="eosToken">The tokenizer's EOS text.</param>
    /// <param name="isKnownRole">Roles accepted besides none: null accepts every role; otherwise an unknown role is an <see cref="ArgumentException"/>.</param>
    public static JsonObject Build(IEnumerable<ChatMessage> messages, ChatOptions? options, string? bosToken, string? eosToken, Func<string, bool>? isKnownRole = null)
    {
        var list = new JsonArray();
        if (!string.IsNullOrEmpty(options?.Instructions))
            list.Add(new JsonObject { ["role"] = "system", ["content"] = options.Instructions });
        var callNames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var m in messages)
        {
            if (m is null) throw new ArgumentException("The messages contain a null entry.", nameof(messages));
            if (isKnownRole is not null && !isKnownRole(m.Role.Value))
                throw new ArgumentException($"Message role '{m.Role.Value}' is not one the chat template handles (system, user, assistant, tool, or a role the template names).", nameof(messages));
            AddMessage(list, m, callNames);
        }
        var context = new JsonObject
        {
            ["messages"] = list,
            ["add_generation_prompt"] = true,
            ["bos_token"] = bosToken ?? "",
            ["eos_token"] = eosToken ?? "",
        };
        if (ToolsOffered(options)) context["tools"] = Tools(options!.Tools!);
        if (options?.Reasoning is { } reasoning)
            context["enable_thinking"] = reasoning.Effort is not ReasoningEffort.None;
        return context;
    }

    /// <summary>Tools are shown to the model unless there are none or ToolMode is None.</summary>
    public static bool ToolsOffered(ChatOptions? options) =>
        options?.Tools is { Count: > 0 } tools && options.ToolMode is not NoneChatToolMode && tools.OfType<AIFunctionDeclaration>().Any();

    private static void AddMessage(JsonArray list, ChatMessage m, Dictionary<string, string> callNames)
    {
        string role = m.Role.Value;
        var text = string.Concat(m.Contents.OfType<TextContent>().Select(t => t.Text));
        var calls = m.Contents.OfType<FunctionCallContent>().ToList();
        var results = m.Contents.OfType<FunctionResultContent>().ToList();
        if (results.Count > 0)
        {
            // Each function result becomes its own tool message, as OpenAI-style templates expect.
            foreach (var r in results)
            {
                var tool = new JsonObject { ["role"] = "tool", ["tool_call_id"] = r.CallId, ["content"] = ResultText(r.Result) };
                if (callNames.TryGetValue(r.CallId, out var name)) tool["name"] = name;
                list.Add(tool);
            }
            if (text.Length == 0) return;
        }
        var msg = new JsonObject { ["role"] = role, ["content"] = text };
        if (calls.Count > 0)
        {
            var toolCalls = new JsonArray();
            foreach (var c in calls)
            {
                callNames[c.CallId] = c.Name;
                var args = new JsonObject();
                if (c.Arguments is not null)
                    foreach (var (k, v) in c.Arguments) args[k] = ToNode(v);
                toolCalls.Add(new JsonObject
                {
                    ["id"] = c.CallId,
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = c.Name, ["arguments"] = args },
                });
            }
            msg["tool_calls"] = toolCalls;
        }
        list.Add(msg);
    }

    private static JsonArray Tools(IList<AITool> tools)
    {
        var array = new JsonArray();
        foreach (var f in tools.OfType<AIFunctionDeclaration>())
        {
            var fn = new JsonObject { ["name"] = f.Name };
            if (!string.IsNullOrEmpty(f.Description)) fn["description"] = f.Description;
            fn["parameters"] = JsonNode.Parse(f.JsonSchema.GetRawText());
            array.Add(new JsonObject { ["type"] = "function", ["function"] = fn });
        }
        return array;
    }

    private static string ResultText(object? result) => result switch
    {
        null => "",
        string s => s,
        JsonElement e when e.ValueKind == JsonValueKind.String => e.GetString()!,
        JsonElement e => e.GetRawText(),
        _ => Serialize(result),
    };

    // Caller objects that System.Text.Json cannot write (cycles, unsupported types) are the caller's error.
    private static string Serialize(object value)
    {
        try { return JsonSerializer.Serialize(value, value.GetType()); }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            throw new ArgumentException($"A {value.GetType().Name} in the messages cannot be written as JSON: {e.Message}", "messages", e);
        }
    }

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        JsonNode n => n.DeepClone(),
        JsonElement e => JsonNode.Parse(e.GetRawText()),
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        int i => JsonValue.Create(i),
        long l => JsonValue.Create(l),
        double d => JsonValue.Create(d),
        float f => JsonValue.Create(f),
        decimal m => JsonValue.Create(m),
        _ => JsonNode.Parse(Serialize(value)),
    };
}
