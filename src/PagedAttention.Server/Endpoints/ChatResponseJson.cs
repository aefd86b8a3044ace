using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using PagedAttention.AI.Engine;
using PagedAttention.Server.Hosting;
using PagedAttention.Server.Protocol;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.Server.Endpoints;

/// <summary>
/// The JSON of chat completions: <c>chat.completion</c> objects and <c>chat.completion.chunk</c> events, with OpenAI's
/// field names and order (id, object, created, model, choices, usage); logprobs as OpenAI's
/// <c>{"content": [{token, logprob, bytes, top_logprobs}]}</c>.
/// </summary>
internal sealed class ChatResponseJson(ServedModel.State state, ChatRequest request, Tokenizer tokenizer)
{
    private readonly string _id = "chatcmpl-" + Guid.NewGuid().ToString("N");
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private void Head(Utf8JsonWriter w, string type)
    {
        w.WriteStartObject();
        w.WriteString("id", _id);
        w.WriteString("object", type);
        w.WriteNumber("created", _created);
        w.WriteString("model", state.ModelId);
        w.WriteString("system_fingerprint", "pagedattention");
    }

    private void ChunkStart(Utf8JsonWriter w, int index)
    {
        Head(w, "chat.completion.chunk");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("delta");
    }

    private void ChunkEnd(Utf8JsonWriter w, ChatChoice? logprobsOf, string? finish)
    {
        w.WriteEndObject(); // delta
        if (logprobsOf is { PendingLogprobs.Count: > 0 }) Logprobs(w, logprobsOf.PendingLogprobs);
        else w.WriteNull("logprobs");
        if (finish is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finish);
        w.WriteEndObject();
        w.WriteEndArray();
        if (request.Common.IncludeUsage) w.WriteNull("usage");
        w.WriteEndObject();
    }

    public void RoleChunk(Utf8JsonWriter w, int index)
    {
        ChunkStart(w, index);
        w.WriteString("role", "assistant");
        w.WriteString("content", "");
        ChunkEnd(w, null, null);
    }

    public void ContentChunk(Utf8JsonWriter w, ChatChoice c)
    {
        ChunkStart(w, c.Index);
        if (c.Reasoning.Length > 0) w.WriteString("reasoning_content", c.Reasoning.ToString());
        if (c.Content.Length > 0) w.WriteString("content", c.Content.ToString());
        ChunkEnd(w, request.Logprobs ? c : null, null);
    }

    /// <summary>A tool call's first chunk (index, id, type, name, empty arguments) or its arguments.</summary>
    public void ToolCallChunk(Utf8JsonWriter w, ChatChoice c, int k, bool nameOnly)
    {
        var call = c.Calls[k];
        ChunkStart(w, c.Index);
        w.WriteStartArray("tool_calls");
        w.WriteStartObject();
        w.WriteNumber("index", k);
        if (nameOnly)
        {
            w.WriteString("id", call.CallId);
            w.WriteString("type", "function");
        }
        w.WriteStartObject("function");
        if (nameOnly) w.WriteString("name", call.Name);
        w.WriteString("arguments", nameOnly ? "" : Arguments(call));
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndArray();
        ChunkEnd(w, null, null);
    }

    public void FinishChunk(Utf8JsonWriter w, ChatChoice c)
    {
        ChunkStart(w, c.Index);
        ChunkEnd(w, null, c.FinishReason);
    }

    public void UsageChunk(Utf8JsonWriter w, ChatChoice[] choices, int promptTokens)
    {
        Head(w, "chat.completion.chunk");
        w.WriteStartArray("choices");
        w.WriteEndArray();
        Usage(w, choices, promptTokens);
        w.WriteEndObject();
    }

    public byte[] Complete(ChatChoice[] choices, int promptTokens)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            Head(w, "chat.completion");
            w.WriteStartArray("choices");
            foreach (var c in choices)
            {
                w.WriteStartObject();
                w.WriteNumber("index", c.Index);
                w.WriteStartObject("message");
                w.WriteString("role", "assistant");
                if (c.Content.Length == 0 && c.Calls.Count > 0) w.WriteNull("content"); else w.WriteString("content", c.Content.ToString());
                if (c.Reasoning.Length > 0) w.WriteString("reasoning_content", c.Reasoning.ToString());
                if (c.Calls.Count > 0)
                {
                    w.WriteStartArray("tool_calls");
                    foreach (var call in c.Calls)
                    {
                        w.WriteStartObject();
                        w.WriteString("id", call.CallId);
                        w.WriteString("type", "function");
                        w.WriteStartObject("function");
                        w.WriteString("name", call.Name);
                        w.WriteString("arguments", Arguments(call));
                        w.WriteEndObject();
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                w.WriteEndObject();
                if (request.Logprobs) Logprobs(w, c.PendingLogprobs); else w.WriteNull("logprobs");
                w.WriteString("finish_reason", c.FinishReason);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            Usage(w, choices, promptTokens);
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    private static void Usage(Utf8JsonWriter w, ChatChoice[] choices, int promptTokens)
    {
        int completion = choices.Sum(c => c.Tokens);
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", promptTokens);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", promptTokens + completion);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", choices.Max(c => c.CachedTokens));
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private void Logprobs(Utf8JsonWriter w, List<GenerationOutput> tokens)
    {
        w.WriteStartObject("logprobs");
        w.WriteStartArray("content");
        foreach (var o in tokens)
        {
            w.WriteStartObject();
            Token(w, o.TokenId, o.Logprob);
            w.WriteStartArray("top_logprobs");
            if (o.TopLogprobs is { } top)
                for (int i = 0; i < Math.Min(top.Length, request.TopLogprobs); i++)
                {
                    w.WriteStartObject();
                    Token(w, top[i].TokenId, top[i].Logprob);
                    w.WriteEndObject();
                }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private void Token(Utf8JsonWriter w, int id, float logprob)
    {
        string text = tokenizer.Decode([id]);
        w.WriteString("token", text);
        w.WriteNumber("logprob", float.IsFinite(logprob) ? logprob : -9999f);
        w.WriteStartArray("bytes");
        foreach (byte b in Encoding.UTF8.GetBytes(text)) w.WriteNumberValue(b);
        w.WriteEndArray();
    }

    private static string Arguments(FunctionCallContent call) =>
        JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>(), AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IDictionary<string, object?>)));
}
