namespace PagedAttention.AI.Chat;

/// <summary>
/// Splits streamed text into reasoning (inside <c>&lt;think&gt;…&lt;/think&gt;</c>) and answer text, holding back only
/// what could be the start of a tag, so neither tag ever reaches the caller.
/// </summary>
internal sealed class ReasoningSplitter(bool startInReasoning)
{
    internal const string Open = "<think>", Close = "</think>";
    private string _pending = "";
    private bool _sawAnswer;

    /// <summary>True while inside a reasoning block.</summary>
    public bool InReasoning { get; private set; } = startInReasoning;

    /// <summary>Feeds a text delta; completed pieces are appended to <paramref name="output"/>.</summary>
    public void Push(string delta, List<(bool Reasoning, string Text)> output)
    {
        string text = _pending + delta;
        _pending = "";
        int start = 0;
        while (start < text.Length)
        {
            string tag = InReasoning ? Close : Open;
            int i = text.IndexOf(tag, start, StringComparison.Ordinal);
            if (i >= 0)
            {
                // An opening tag counts only before any answer text (models think first).
                if (!InReasoning && (_sawAnswer || !text.AsSpan(start, i - start).Trim().IsEmpty)) { Emit(text[start..(i + tag.Length)], output); start = i + tag.Length; continue; }
                Emit(text[start..i], output);
                InReasoning = !InReasoning;
                start = i + tag.Length;
                // Drop the blank lines templates put right after </think>.
                if (!InReasoning) { while (start < text.Length && text[start] is '\n' or '\r') start++; if (start == text.Length) _trimNext = true; }
                continue;
            }
            int keep = PartialTagSuffix(text, start, tag);
            Emit(text[start..(text.Length - keep)], output);
            _pending = text[(text.Length - keep)..];
            return;
        }
    }

    private bool _trimNext;

    /// <summary>Emits what is still held back at the end of the stream.</summary>
    public void Flush(List<(bool Reasoning, string Text)> output)
    {
        Emit(_pending, output);
        _pending = "";
    }

    private void Emit(string text, List<(bool Reasoning, string Text)> output)
    {
        if (_trimNext && !InReasoning) { text = text.TrimStart('\n', '\r'); if (text.Length > 0) _trimNext = false; }
        if (text.Length == 0) return;
        if (!InReasoning && text.AsSpan().Trim().Length > 0) _sawAnswer = true;
        output.Add((InReasoning, text));
    }

    private static int PartialTagSuffix(string text, int start, string tag)
    {
        for (int k = Math.Min(tag.Length - 1, text.Length - start); k > 0; k--)
            if (text.AsSpan(text.Length - k).SequenceEqual(tag.AsSpan(0, k))) return k;
        return 0;
    }
}
