using System.Text;
using Microsoft.Extensions.AI;

namespace PagedAttention.AI.Chat;

/// <summary>
/// Streams answer text through while holding back anything that may be a tool call (from a marker such as
/// <c>&lt;tool_call&gt;</c>, or a leading JSON value), so callers only ever see complete <see cref="FunctionCallContent"/>s.
/// </summary>
internal sealed class ToolCallStream
{
    private readonly StringBuilder _held = new();
    private string _partial = "";
    private bool _holding;
    private bool _emittedText;

    /// <summary>Feeds answer text; returns what may be shown now.</summary>
    public string Push(string text)
    {
        if (_holding) { _held.Append(text); return ""; }
        string s = _partial + text;
        _partial = "";
        if (!_emittedText)
        {
            var trimmed = s.AsSpan().TrimStart();
            if (trimmed.IsEmpty) { _partial = s; return ""; }
            if (trimmed[0] is '{' or '[') { Hold(s); return ""; }
        }
        int first = -1;
        foreach (var marker in ToolCallParser.Markers)
        {
            int i = s.IndexOf(marker, StringComparison.Ordinal);
            if (i >= 0 && (first < 0 || i < first)) first = i;
        }
        if (first >= 0) { Hold(s[first..]); return Emit(s[..first]); }
        int keep = 0;
        foreach (var marker in ToolCallParser.Markers)
            for (int k = Math.Min(marker.Length - 1, s.Length); k > keep; k--)
                if (s.AsSpan(s.Length - k).SequenceEqual(marker.AsSpan(0, k))) { keep = k; break; }
        _partial = s[(s.Length - keep)..];
        return Emit(s[..(s.Length - keep)]);
    }

    /// <summary>Ends the stream: parses what was held. Returns text that turned out not to be a call.</summary>
    public string Finish(out List<FunctionCallContent> calls)
    {
        string held = _held.ToString() + _partial;
        _held.Clear();
        _partial = "";
        if (held.Length > 0 && ToolCallParser.TryParse(held, out string lead, out calls)) return lead;
        calls = [];
        return held;
    }

    private void Hold(string s) { _holding = true; _held.Append(s); }

    private string Emit(string s)
    {
        if (s.Length > 0) _emittedText = true;
        return s;
    }
}
