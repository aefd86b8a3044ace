using PagedAttention.AI.Requests;

namespace PagedAttention.AI.Sampling;

/// <summary>
/// The one place that decides whether a sequence stops after a token, and the text that token adds: end tokens
/// (eos unless <see cref="SamplingParams.IgnoreEos"/>, <see cref="SamplingParams.StopTokenIds"/>) once
/// <see cref="SamplingParams.MinTokens"/> are out, <see cref="SamplingParams.MaxTokens"/> and the sequence's length
/// limit, and stop strings on the detokenized text (held back until they cannot be a stop string's start). One per
/// sequence, used by the step loop only.
/// </summary>
internal sealed class StopChecker
{
    private readonly int[] _endTokens;
    private readonly int _minTokens, _maxTokens, _maxTotalTokens;
    private readonly IStreamingDetokenizer? _detokenizer;
    private readonly StopStringMatcher? _stops;

    /// <param name="p">The request's parameters.</param>
    /// <param name="eosTokenIds">The model's end-of-sequence ids.</param>
    /// <param name="maxTotalTokens">Most tokens (prompt + output) the sequence may hold.</param>
    /// <param name="detokenizer">Turns tokens into text; null: no text (and no stop strings, which the caller rejects).</param>
    public StopChecker(SamplingParams p, IReadOnlyList<int> eosTokenIds, int maxTotalTokens, IStreamingDetokenizer? detokenizer)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(eosTokenIds);
        if (p.StopStrings.Count > 0 && detokenizer is null) throw new ArgumentException("Stop strings need a detokenizer.", nameof(detokenizer));
        var end = new List<int>(eosTokenIds.Count + p.StopTokenIds.Count);
        if (!p.IgnoreEos) foreach (int t in eosTokenIds) if (!end.Contains(t)) end.Add(t);
        foreach (int t in p.StopTokenIds) if (!end.Contains(t)) end.Add(t);
        _endTokens = [.. end];
        _minTokens = p.MinTokens;
        _maxTokens = p.MaxTokens;
        _maxTotalTokens = maxTotalTokens;
        _detokenizer = detokenizer;
        _stops = p.StopStrings.Count > 0 ? new StopStringMatcher(p.StopStrings) : null;
    }

    /// <summary>Tokens that end the sequence once MinTokens are out; the samplers mask them before that.</summary>
    public ReadOnlySpan<int> EndTokenIds => _endTokens;

    /// <summary>Whether text is produced (a detokenizer was given).</summary>
    public bool HasText => _detokenizer is not null;

    /// <summary>
    /// Takes the token just appended (the sequence now has <paramref name="numOutputTokens"/> output tokens and
    /// <paramref name="numTokens"/> in all). Returns why the sequence finishes, or null to go on; <paramref name="text"/>
    /// is the text it adds (null without a detokenizer). An end token adds no text of its own; a stop string is cut
    /// with everything after it; at the end, text held back is flushed.
    /// </summary>
    public FinishReason? Check(int token, int numOutputTokens, int numTokens, out string? text)
    {
        FinishReason? reason = null;
        if (numOutputTokens >= _minTokens && Array.IndexOf(_endTokens, token) >= 0) reason = FinishReason.Stop;
        else if (numOutputTokens >= _maxTokens || numTokens >= _maxTotalTokens) reason = FinishReason.Length;
        text = null;
        if (_detokenizer is not { } detok) return reason;
        text = reason == FinishReason.Stop ? string.Empty : detok.Append(token);
        if (_stops is { } stops)
        {
            text = stops.Push(text, out bool stopped);
            if (stopped) return FinishReason.Stop;
            if (reason is not null) text += detok.Flush() is { Length: > 0 } rest ? stops.Push(rest, out _) + stops.Flush() : stops.Flush();
        }
        else if (reason is not null) text += detok.Flush();
        return reason;
    }
}
