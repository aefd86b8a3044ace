using PagedAttention.AI.Sampling;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.AI.Engine;

/// <summary>Adapts the tokenizer's <see cref="StreamingDecoder"/> to the engine's <see cref="IStreamingDetokenizer"/>.</summary>
internal sealed class StreamingDecoderDetokenizer : IStreamingDetokenizer
{
    private readonly StreamingDecoder _decoder;
    private readonly Func<int, bool>? _skip;

    /// <summary>Wraps <paramref name="decoder"/> (one per generated sequence).</summary>
    public StreamingDecoderDetokenizer(StreamingDecoder decoder) : this(decoder, null) { }

    private StreamingDecoderDetokenizer(StreamingDecoder decoder, Func<int, bool>? skip)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        _decoder = decoder;
        _skip = skip;
    }

    /// <summary>
    /// A factory for <c>EngineOptions.DetokenizerFactory</c>: one decoder per sequence. With
    /// <paramref name="skipSpecialTokens"/>, special tokens produce no text, except those whose content is in
    /// <paramref name="keepSpecialTokens"/> (markers such as <c>[TOOL_CALLS]</c> that a tool-call parser must see).
    /// </summary>
    public static Func<IStreamingDetokenizer> Factory(Tokenizer tokenizer, bool skipSpecialTokens = true, IReadOnlySet<string>? keepSpecialTokens = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (!skipSpecialTokens || keepSpecialTokens is null or { Count: 0 })
            return () => new StreamingDecoderDetokenizer(tokenizer.CreateDecoder(skipSpecialTokens));
        var kept = new HashSet<int>();
        foreach (var t in keepSpecialTokens)
            if (tokenizer.TokenToId(t) is int id) kept.Add(id);
        Func<int, bool> skip = id => tokenizer.IsSpecialToken(id) && !kept.Contains(id);
        return () => new StreamingDecoderDetokenizer(tokenizer.CreateDecoder(skipSpecialTokens: false), skip);
    }

    /// <inheritdoc />
    public string Append(int tokenId) => _skip is not null && _skip(tokenId) ? "" : _decoder.Append(tokenId);

    /// <inheritdoc />
    public string Flush() => _decoder.Flush();
}
