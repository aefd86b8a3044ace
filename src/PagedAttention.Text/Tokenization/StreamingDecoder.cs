using System.Text;

namespace PagedAttention.Text.Tokenization;

/// <summary>
/// Incremental detokenizer for one generated sequence. <see cref="Append(int)"/> returns only text that is complete
/// (never a trailing U+FFFD from a half-received multi-byte char), and the concatenation of every
/// <see cref="Append(int)"/> result and the final <see cref="Flush"/> equals <see cref="Tokenizer.Decode"/> of all ids.
/// Not thread-safe: one instance per sequence.
/// </summary>
/// <remarks>
/// Decodes a window: from an anchor token already emitted to the newest token, and emits what the window
/// adds beyond the anchor's own text (the vLLM / HF DecodeStream scheme). The anchor is a token that produces
/// text, so decoders that treat the first token specially (Strip, Metaspace) see the same first token in both
/// decodes. If the window text ever stops extending the anchor text, it falls back to decoding everything.
/// </remarks>
public sealed class StreamingDecoder
{
    private readonly Tokenizer _tokenizer;
    private readonly bool _skipSpecial;
    private readonly List<int> _ids = new();
    private int _prefixOffset; // window start (anchor)
    private int _readOffset;   // ids before this are fully emitted
    private int _emittedChars; // total chars emitted, for the full-decode fallback
    private bool _fallback;

    internal StreamingDecoder(Tokenizer tokenizer, bool skipSpecialTokens)
    {
        _tokenizer = tokenizer;
        _skipSpecial = skipSpecialTokens;
    }

    /// <summary>All ids appended so far.</summary>
    public IReadOnlyList<int> Ids => _ids;

    /// <summary>Appends one id; returns the newly completed text (possibly empty).</summary>
    public string Append(int id)
    {
        _ids.Add(id);
        if (_fallback) return EmitFull(final: false);
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_ids);
        string prefix = _tokenizer.Decode(span[_prefixOffset.._readOffset], _skipSpecial);
        string full = _tokenizer.Decode(span[_prefixOffset..], _skipSpecial);
        if (!full.StartsWith(prefix, StringComparison.Ordinal))
        {
            _fallback = true;
            return EmitFull(final: false);
        }
        if (full.Length == prefix.Length || full.EndsWith('\uFFFD')) return "";
        string text = full[prefix.Length..];
        _emittedChars += text.Length;
        // Next anchor: the first id of the chunk just emitted that produces text. The chunk starts on a char
        // boundary (the previous chunk ended complete), so the anchor decodes cleanly on its own, and it is
        // never empty, so decoders that treat the first token specially see the same first token twice.
        for (int i = _readOffset; i < _ids.Count; i++)
            if (_tokenizer.ContributesText(_ids[i], _skipSpecial)) { _prefixOffset = i; break; }
        _readOffset = _ids.Count;
        return text;
    }

    /// <summary>Appends one id and writes the completed text to <paramref name="output"/>.</summary>
    public void Append(int id, StringBuilder output)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.Append(Append(id));
    }

    /// <summary>Returns whatever is still held back (e.g. an incomplete byte sequence, as U+FFFD like Decode gives).</summary>
    public string Flush()
    {
        if (_fallback) return EmitFull(final: true);
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_ids);
        string prefix = _tokenizer.Decode(span[_prefixOffset.._readOffset], _skipSpecial);
        string full = _tokenizer.Decode(span[_prefixOffset..], _skipSpecial);
        if (!full.StartsWith(prefix, StringComparison.Ordinal)) { _fallback = true; return EmitFull(final: true); }
        string text = full[prefix.Length..];
        _emittedChars += text.Length;
        _readOffset = _ids.Count;
        return text;
    }

    private string EmitFull(bool final)
    {
        string all = _tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_ids), _skipSpecial);
        if (!final && all.EndsWith('\uFFFD')) return "";
        if (all.Length <= _emittedChars) return "";
        string text = all[_emittedChars..];
        _emittedChars = all.Length;
        return text;
    }
}
