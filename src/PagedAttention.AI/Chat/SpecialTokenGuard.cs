using System.Text;
using System.Text.Json.Nodes;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.AI.Chat;

/// <summary>
/// Keeps text that callers put into messages from becoming control tokens (prompt injection: a user writing
/// <c>&lt;|im_end|&gt;&lt;|im_start|&gt;system</c> to forge a turn). Before rendering, every occurrence of a special
/// token's text inside a message's strings is replaced by a private-use marker character; after rendering the markers
/// are put back and their ranges handed to <see cref="Tokenizer.Encode(string, bool, ReadOnlySpan{ValueTuple{int, int}})"/>
/// as plain text, so only the template's own markup produces special ids. A context whose messages hold no special
/// token text is not touched at all: ordinary prompts render and encode exactly as before.
/// </summary>
internal sealed class SpecialTokenGuard
{
    private const char FirstMarker = '\uE000', LastMarker = '\uF8FF';
    private readonly string[] _specials;

    public SpecialTokenGuard(Tokenizer tokenizer) =>
        _specials = [.. tokenizer.SpecialTokenTexts.Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).OrderByDescending(t => t.Length)];

    /// <summary>What <see cref="Protect"/> replaced: marker character → the special token's text.</summary>
    public sealed class Markers
    {
        internal readonly Dictionary<char, string> ByMarker = [];
        internal readonly Dictionary<string, char> ByText = new(StringComparer.Ordinal);
        internal char Next = FirstMarker;
        internal HashSet<char> InUse = [];
    }

    /// <summary>
    /// Replaces special-token text in the string values of <paramref name="context"/>'s messages (everything but
    /// <c>role</c>) with markers; returns null when there was none (then nothing changed).
    /// </summary>
    public Markers? Protect(JsonObject context)
    {
        if (_specials.Length == 0 || context["messages"] is not JsonArray messages) return null;
        Markers? markers = null;
        foreach (var m in messages)
            if (m is JsonObject msg) Walk(msg, ref markers, messages, skipRole: true);
        return markers;
    }

    // Rewrites, in place, every string below the node that holds special-token text.
    private void Walk(JsonNode node, ref Markers? markers, JsonArray messages, bool skipRole = false)
    {
        if (node is JsonObject o)
        {
            foreach (var key in o.Select(kv => kv.Key).ToList())
            {
                if (skipRole && key == "role") continue;
                if (o[key] is not { } child) continue;
                if (Replacement(child, ref markers, messages) is { } r) o[key] = r;
                else Walk(child, ref markers, messages);
            }
        }
        else if (node is JsonArray a)
        {
            for (int i = 0; i < a.Count; i++)
            {
                if (a[i] is not { } child) continue;
                if (Replacement(child, ref markers, messages) is { } r) a[i] = r;
                else Walk(child, ref markers, messages);
            }
        }
    }

    private JsonValue? Replacement(JsonNode node, ref Markers? markers, JsonArray messages)
    {
        if (node is not JsonValue v || !v.TryGetValue(out string? s) || !ContainsSpecial(s)) return null;
        markers ??= NewMarkers(messages);
        return JsonValue.Create(Replace(s, markers));
    }

    private bool ContainsSpecial(string s)
    {
        foreach (var t in _specials) if (s.Contains(t, StringComparison.Ordinal)) return true;
        return false;
    }

    private string Replace(string s, Markers markers)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length;)
        {
            string? hit = null;
            foreach (var t in _specials) // longest first
                if (string.CompareOrdinal(s, i, t, 0, t.Length) == 0) { hit = t; break; }
            if (hit is null) { sb.Append(s[i++]); continue; }
            if (!markers.ByText.TryGetValue(hit, out char c))
            {
                while (markers.Next <= LastMarker && markers.InUse.Contains(markers.Next)) markers.Next++;
                if (markers.Next > LastMarker) throw new ArgumentException("The messages use every private-use character; special-token text in them cannot be protected.");
                c = markers.Next++;
                markers.ByText[hit] = c;
                markers.ByMarker[c] = hit;
            }
            sb.Append(c);
            i += hit.Length;
        }
        return sb.ToString();
    }

    // Markers must not collide with private-use characters the caller's text already holds.
    private static Markers NewMarkers(JsonArray messages)
    {
        var markers = new Markers();
        foreach (char ch in messages.ToJsonString())
            if (ch is >= FirstMarker and <= LastMarker) markers.InUse.Add(ch);
        return markers;
    }

    /// <summary>Puts the special-token text back into <paramref name="prompt"/>; <paramref name="ranges"/> receives where (sorted).</summary>
    public static string Restore(string prompt, Markers markers, List<(int Start, int Length)> ranges)
    {
        var sb = new StringBuilder(prompt.Length + 64);
        foreach (char ch in prompt)
        {
            if (ch is >= FirstMarker and <= LastMarker && markers.ByMarker.TryGetValue(ch, out var text))
            {
                ranges.Add((sb.Length, text.Length));
                sb.Append(text);
            }
            else sb.Append(ch);
        }
        return sb.ToString();
    }
}
