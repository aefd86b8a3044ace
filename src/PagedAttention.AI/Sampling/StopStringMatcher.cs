namespace PagedAttention.AI.Sampling;

/// <summary>
/// Finds stop strings in streamed text, across token boundaries. Text that could be the start of a stop string is
/// held back until it is known not to be one, so nothing from a stop string onward is ever emitted.
/// </summary>
internal sealed class StopStringMatcher
{
    private readonly IReadOnlyList<string> _stops;
    private readonly int _maxLen;
    private char[] _buf;
    private int _len;

    public StopStringMatcher(IReadOnlyList<string> stops)
    {
        ArgumentNullException.ThrowIfNull(stops);
        _stops = stops;
        foreach (var s in stops) _maxLen = Math.Max(_maxLen, s.Length);
        _buf = new char[Math.Max(64, 4 * _maxLen)];
    }

    /// <summary>Feeds a text delta. Returns the text that is safe to emit; <paramref name="stopped"/> when a stop string completed.</summary>
    public string Push(string delta, out bool stopped)
    {
        stopped = false;
        if (_stops.Count == 0) return delta;
        int searchFrom = Math.Max(0, _len - _maxLen + 1);
        if (_len + delta.Length > _buf.Length) Array.Resize(ref _buf, Math.Max(2 * _buf.Length, _len + delta.Length));
        delta.CopyTo(_buf.AsSpan(_len));
        _len += delta.Length;

        var text = _buf.AsSpan(0, _len);
        int first = -1;
        foreach (var s in _stops)
        {
            int at = text[searchFrom..].IndexOf(s.AsSpan(), StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || searchFrom + at < first)) first = searchFrom + at;
        }
        if (first >= 0)
        {
            stopped = true;
            var emit = new string(text[..first]);
            _len = 0;
            return emit;
        }
        int hold = HeldSuffix(text);
        int ready = _len - hold;
        if (ready == 0) return string.Empty;
        var result = new string(text[..ready]);
        text[ready..].CopyTo(_buf);
        _len = hold;
        return result;
    }

    /// <summary>At the end of the sequence: the held-back text, which turned out not to be a stop string.</summary>
    public string Flush()
    {
        var s = new string(_buf, 0, _len);
        _len = 0;
        return s;
    }

    // Longest suffix of the text that is a proper prefix of some stop string.
    private int HeldSuffix(ReadOnlySpan<char> text)
    {
        for (int k = Math.Min(_maxLen - 1, text.Length); k > 0; k--)
        {
            var tail = text[^k..];
            foreach (var s in _stops)
                if (s.Length > k && s.AsSpan(0, k).SequenceEqual(tail)) return k;
        }
        return 0;
    }
}
