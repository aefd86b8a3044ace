using PagedAttention.AI.Tokenization;

namespace PagedAttention.AI.Sampling;

/// <summary>Adapts the tokenizer's <see cref="StreamingDecoder"/> to the engine's <see cref="IStreamingDetokenizer"/>.</summary>
public sealed class StreamingDecoderDetokenizer : IStreamingDetokenizer
{
    private readonly StreamingDecoder _decoder;

    /// <summary>Wraps <paramref name="decoder"/> (one per generated sequence).</summary>
    public StreamingDecoderDetokenizer(StreamingDecoder decoder)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        _decoder = decoder;
    }

    /// <summary>A factory for <c>EngineOptions.DetokenizerFactory</c>: one decoder per sequence, special tokens skipped by default.</summary>
    public static Func<IStreamingDetokenizer> Factory(Tokenizer tokenizer, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return () => new StreamingDecoderDetokenizer(tokenizer.CreateDecoder(skipSpecialTokens));
    }

    /// <inheritdoc />
    public string Append(int tokenId) => _decoder.Append(tokenId);

    /// <inheritdoc />
    public string Flush() => _decoder.Flush();
}
