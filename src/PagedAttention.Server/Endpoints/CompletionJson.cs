using System.Text.Json;
using PagedAttention.AI.Engine;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.Server.Endpoints;

/// <summary>The JSON of <c>text_completion</c> objects and chunks, with the legacy logprobs shape (tokens, token_logprobs, top_logprobs, text_offset).</summary>
internal sealed class CompletionJson(string model, bool includeUsage, int logprobs, Tokenizer tokenizer)
{
    private readonly string _id = "cmpl-" + Guid.NewGuid().ToString("N");
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private void Head(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("id", _id);
        w.WriteString("object", "text_completion");
        w.WriteNumber("created", _created);
        w.WriteString("model", model);
        w.WriteString("system_fingerprint", "pagedattention");
    }

    public void Chunk(Utf8JsonWriter w, int index, string text, IReadOnlyList<GenerationOutput>? tokens, int textOffset, string? finish)
    {
        Head(w);
        w.WriteStartArray("choices");
        Choice(w, index, text, finish, tokens, textOffset);
        w.WriteEndArray();
        if (includeUsage) w.WriteNull("usage");
        w.WriteEndObject();
    }

    public void Usage(Utf8JsonWriter w, int prompt, int completion, int cached)
    {
        Head(w);
        w.WriteStartArray("choices");
        w.WriteEndArray();
        WriteUsage(w, prompt, completion, cached);
        w.WriteEndObject();
    }

    public byte[] Complete((int Index, string Text, string Finish, IReadOnlyList<GenerationOutput> Logprobs)[] choices, int prompt, int completion, int cached)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            Head(w);
            w.WriteStartArray("choices");
            foreach (var c in choices) Choice(w, c.Index, c.Text, c.Finish, logprobs >= 0 ? c.Logprobs : null, 0);
            w.WriteEndArray();
            WriteUsage(w, prompt, completion, cached);
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    private void Choice(Utf8JsonWriter w, int index, string text, string? finish, IReadOnlyList<GenerationOutput>? tokens, int textOffset)
    {
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteString("text", text);
        if (tokens is null) w.WriteNull("logprobs");
        else
        {
            w.WriteStartObject("logprobs");
            var texts = tokens.Select(o => tokenizer.Decode([o.TokenId])).ToArray();
            w.WriteStartArray("tokens");
            foreach (var t in texts) w.WriteStringValue(t);
            w.WriteEndArray();
            w.WriteStartArray("token_logprobs");
            foreach (var o in tokens) w.WriteNumberValue(float.IsFinite(o.Logprob) ? o.Logprob : -9999f);
            w.WriteEndArray();
            w.WriteStartArray("top_logprobs");
            foreach (var o in tokens)
            {
                w.WriteStartObject();
                if (o.TopLogprobs is { } top)
                    for (int i = 0; i < Math.Min(top.Length, logprobs); i++)
                    {
                        string key = tokenizer.Decode([top[i].TokenId]);
                        if (i > 0 && top.Take(i).Any(t => tokenizer.Decode([t.TokenId]) == key)) continue; // JSON keys are unique
                        w.WriteNumber(key, top[i].Logprob);
                    }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("text_offset");
            int offset = textOffset;
            foreach (var t in texts) { w.WriteNumberValue(offset); offset += t.Length; }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        if (finish is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finish);
        w.WriteEndObject();
    }

    private static void WriteUsage(Utf8JsonWriter w, int prompt, int completion, int cached)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", cached);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
