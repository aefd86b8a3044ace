using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace PagedAttention.AI.Chat;

/// <summary>
/// Turns a model's tool-call text into <see cref="FunctionCallContent"/>s. Understands the Hermes/Qwen
/// <c>&lt;tool_call&gt;{json}&lt;/tool_call&gt;</c> blocks, Mistral's <c>[TOOL_CALLS]</c> (a JSON list, or
/// <c>name[ARGS]{json}</c>), and Llama 3.1/3.2 JSON calls (<c>{"name": ..., "parameters": ...}</c>, optionally after
/// <c>&lt;|python_tag|&gt;</c>, several separated by <c>;</c>).
/// </summary>
internal static class ToolCallParser
{
    internal const string HermesOpen = "<tool_call>", HermesClose = "</tool_call>";
    internal const string MistralMarker = "[TOOL_CALLS]", MistralArgs = "[ARGS]";
    internal const string PythonTag = "<|python_tag|>";

    /// <summary>Markers after which text is held back while streaming, because a tool call may follow.</summary>
    public static ReadOnlySpan<string> Markers => new[] { HermesOpen, MistralMarker, PythonTag };

    /// <summary>
    /// Parses <paramref name="text"/>. Returns false (and no calls) when it holds no well-formed call; otherwise the
    /// calls and the text that preceded the first one.
    /// </summary>
    public static bool TryParse(string text, out string leadingText, out List<FunctionCallContent> calls)
    {
        calls = [];
        leadingText = text;
        int h = text.IndexOf(HermesOpen, StringComparison.Ordinal);
        if (h >= 0 && TryParseHermes(text.AsSpan(h), calls)) { leadingText = text[..h]; return true; }
        calls.Clear();
        int m = text.IndexOf(MistralMarker, StringComparison.Ordinal);
        if (m >= 0 && TryParseMistral(text[(m + MistralMarker.Length)..], calls)) { leadingText = text[..m]; return true; }
        calls.Clear();
        string body = text.Trim();
        int p = body.IndexOf(PythonTag, StringComparison.Ordinal);
        string lead = "";
        if (p >= 0) { lead = body[..p]; body = body[(p + PythonTag.Length)..].Trim(); }
        if (body.StartsWith('{') && TryParseLlama(body, calls)) { leadingText = lead; return true; }
        calls.Clear();
        return false;
    }

    private static bool TryParseHermes(ReadOnlySpan<char> text, List<FunctionCallContent> calls)
    {
        while (true)
        {
            int open = text.IndexOf(HermesOpen, StringComparison.Ordinal);
            if (open < 0) return calls.Count > 0 && text.Trim().IsEmpty;
            if (!text[..open].Trim().IsEmpty && calls.Count > 0) return false;
            text = text[(open + HermesOpen.Length)..];
            int close = text.IndexOf(HermesClose, StringComparison.Ordinal);
            // A model that stops at eos may leave the last block unclosed.
            var json = close >= 0 ? text[..close] : text;
            if (!TryReadCall(json.ToString(), "arguments", calls)) return false;
            if (close < 0) return true;
            text = text[(close + HermesClose.Length)..];
        }
    }

    private static bool TryParseMistral(string text, List<FunctionCallContent> calls)
    {
        string t = text.Trim();
        if (t.StartsWith('['))
        {
            try
            {
                using var doc = JsonDocument.Parse(t);
                if (doc.RootElement.ValueKind != JsonValueKind.Array) return false;
                foreach (var e in doc.RootElement.EnumerateArray())
                    if (!TryReadCall(e, "arguments", calls)) return false;
                return calls.Count > 0;
            }
            catch (JsonException) { return false; }
        }
        // Newer Mistral format: name[ARGS]{json}, possibly repeated after further [TOOL_CALLS] markers.
        foreach (var part in t.Split(MistralMarker, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int a = part.IndexOf(MistralArgs, StringComparison.Ordinal);
            if (a <= 0) return false;
            string name = part[..a].Trim();
            if (!TryParseArguments(part[(a + MistralArgs.Length)..].Trim(), out var args)) return false;
            calls.Add(new FunctionCallContent(NewCallId(), name, args));
        }
        return calls.Count > 0;
    }

    private static bool TryParseLlama(string text, List<FunctionCallContent> calls)
    {
        // Several calls may be separated by ';'. Read JSON values one after another.
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { AllowMultipleValues = true, CommentHandling = JsonCommentHandling.Skip });
        int consumed = 0;
        while (true)
        {
            // Skip separators between values.
            while (consumed < bytes.Length && (bytes[consumed] is (byte)';' or (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')) consumed++;
            if (consumed == bytes.Length) return calls.Count > 0;
            reader = new Utf8JsonReader(bytes.AsSpan(consumed), new JsonReaderOptions { AllowMultipleValues = true });
            try
            {
                if (!JsonDocument.TryParseValue(ref reader, out var doc)) return false;
                using (doc)
                    if (!TryReadCall(doc.RootElement, "parameters", calls) && !TryReadCall(doc.RootElement, "arguments", calls)) return false;
            }
            catch (JsonException) { return false; }
            consumed += (int)reader.BytesConsumed;
        }
    }

    private static bool TryReadCall(string json, string argsKey, List<FunctionCallContent> calls)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.Trim());
            return TryReadCall(doc.RootElement, argsKey, calls);
        }
        catch (JsonException) { return false; }
    }

    private static bool TryReadCall(JsonElement e, string argsKey, List<FunctionCallContent> calls)
    {
        if (e.ValueKind != JsonValueKind.Object) return false;
        if (!e.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(n.GetString())) return false;
        Dictionary<string, object?> args = [];
        if (e.TryGetProperty(argsKey, out var a))
        {
            if (a.ValueKind == JsonValueKind.String) { if (!TryParseArguments(a.GetString()!, out args)) return false; }
            else if (a.ValueKind == JsonValueKind.Object) args = ToDictionary(a);
            else if (a.ValueKind != JsonValueKind.Null) return false;
        }
        else if (argsKey == "parameters") return false;
        string id = e.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String && !string.IsNullOrEmpty(i.GetString()) ? i.GetString()! : NewCallId();
        calls.Add(new FunctionCallContent(id, n.GetString()!, args));
        return true;
    }

    private static bool TryParseArguments(string json, out Dictionary<string, object?> args)
    {
        args = [];
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return false;
            args = ToDictionary(doc.RootElement);
            return true;
        }
        catch (JsonException) { return false; }
    }

    private static Dictionary<string, object?> ToDictionary(JsonElement obj)
    {
        var d = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var p in obj.EnumerateObject()) d[p.Name] = p.Value.Clone();
        return d;
    }

    /// <summary>A fresh call id: 9 alphanumerics, the form Mistral's templates require.</summary>
    public static string NewCallId()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        return RandomNumberGenerator.GetString(alphabet, 9);
    }
}
