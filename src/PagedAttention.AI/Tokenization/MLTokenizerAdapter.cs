using System.Buffers;
using Microsoft.ML.Tokenizers;
using PagedAttention.Text.Tokenization;
using TextTokenizer = PagedAttention.Text.Tokenization.Tokenizer;

namespace PagedAttention.AI.Tokenization;

/// <summary>
/// A model's own tokenizer (tokenizer.json, as the engine encodes prompts) as a <see cref="Microsoft.ML.Tokenizers.Tokenizer"/>,
/// so that code written against Microsoft.ML.Tokenizers — Semantic Kernel's text chunkers and token counters,
/// Microsoft.Extensions.DataIngestion chunkers — counts and splits text exactly as the engine will.
/// Thread-safe, like the tokenizer it wraps.
/// </summary>
/// <remarks>
/// The wrapped tokenizer always runs its whole pipeline (normalizer, pre-tokenizer, model, post-processor), so
/// <c>considerNormalization</c> and <c>considerPreTokenization</c> are accepted and ignored. Token offsets are found by
/// decoding the ids incrementally and aligning the text each token completes with the input: a token that completes no
/// character (part of a multi-byte character) or that the post-processor inserted (a BOS) gets an empty range. Where the
/// decoded text is not the input (a normalizer changed it, or unknown characters became an unknown token), the
/// results' normalized text is the decoded text and offsets refer to it, as Microsoft.ML.Tokenizers does for its own
/// normalizers.
/// </remarks>
public sealed class MLTokenizerAdapter : Microsoft.ML.Tokenizers.Tokenizer
{
    private readonly TextTokenizer _tokenizer;
    private readonly bool _addSpecialTokens;
    private readonly bool _skipSpecialTokens;

    /// <summary>Wraps <paramref name="tokenizer"/>.</summary>
    /// <param name="tokenizer">The model's tokenizer (e.g. <c>LlmEngine.Tokenizer</c> or <c>Tokenizer.FromFile</c>).</param>
    /// <param name="addSpecialTokens">
    /// Apply the post-processor when encoding (e.g. prepend BOS). Off by default: chunkers and counters measure content,
    /// and the chat client encodes rendered prompts without it too.
    /// </param>
    /// <param name="skipSpecialTokens">Leave special tokens out of decoded text.</param>
    public MLTokenizerAdapter(TextTokenizer tokenizer, bool addSpecialTokens = false, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _addSpecialTokens = addSpecialTokens;
        _skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>The wrapped tokenizer.</summary>
    public TextTokenizer InnerTokenizer => _tokenizer;

    /// <inheritdoc />
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        string input = text ?? textSpan.ToString();
        int[] ids = _tokenizer.Encode(input, _addSpecialTokens);
        var (offsets, normalized) = Align(input, ids);
        int count = Math.Min(ids.Length, Limit(settings));
        var tokens = new EncodedToken[count];
        for (int i = 0; i < count; i++)
            tokens[i] = new EncodedToken(ids[i], _tokenizer.IdToToken(ids[i]) ?? "", new Range(offsets[i].Start, offsets[i].End));
        return new EncodeResults<EncodedToken> { Tokens = tokens, NormalizedText = normalized, CharsConsumed = Consumed(offsets, count, normalized ?? input) };
    }

    /// <inheritdoc />
    protected override EncodeResults<int> EncodeToIds(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        string input = text ?? textSpan.ToString();
        int[] ids = _tokenizer.Encode(input, _addSpecialTokens);
        int limit = Limit(settings);
        // Offsets cost a decode per token: only a truncated encode needs them (to say how much text the ids cover).
        if (ids.Length <= limit) return new EncodeResults<int> { Tokens = ids, CharsConsumed = input.Length };
        var (offsets, normalized) = Align(input, ids);
        return new EncodeResults<int> { Tokens = ids[..limit], NormalizedText = normalized, CharsConsumed = Consumed(offsets, limit, normalized ?? input) };
    }

    /// <inheritdoc />
    protected override int CountTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings) =>
        Math.Min(_tokenizer.Encode(text ?? textSpan.ToString(), _addSpecialTokens).Length, Limit(settings));

    /// <inheritdoc />
    protected override int GetIndexByTokenCount(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings, bool fromEnd, out string? normalizedText, out int tokenCount)
    {
        string input = text ?? textSpan.ToString();
        int[] ids = _tokenizer.Encode(input, _addSpecialTokens);
        var (offsets, normalized) = Align(input, ids);
        normalizedText = normalized;
        int length = (normalized ?? input).Length;
        int max = Limit(settings);
        if (ids.Length <= max) { tokenCount = ids.Length; return fromEnd ? 0 : length; }
        tokenCount = max;
        // From the start: the text up to the end of the last token kept; from the end: from the start of the first kept.
        if (!fromEnd) return max == 0 ? 0 : offsets[max - 1].End;
        return max == 0 ? length : offsets[ids.Length - max].Start;
    }

    /// <inheritdoc />
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return _tokenizer.Decode(ids as int[] ?? ids.ToArray(), _skipSpecialTokens);
    }

    /// <inheritdoc />
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed, out int charsWritten)
    {
        ArgumentNullException.ThrowIfNull(ids);
        int[] all = ids as int[] ?? ids.ToArray();
        string text = _tokenizer.Decode(all, _skipSpecialTokens);
        if (text.Length <= destination.Length)
        {
            text.CopyTo(destination);
            idsConsumed = all.Length;
            charsWritten = text.Length;
            return OperationStatus.Done;
        }
        // Too small: as many whole ids as fit, found with the incremental decoder (which never splits a character).
        var decoder = _tokenizer.CreateDecoder(_skipSpecialTokens);
        idsConsumed = 0;
        charsWritten = 0;
        foreach (int id in all)
        {
            string delta = decoder.Append(id);
            if (charsWritten + delta.Length > destination.Length) break;
            delta.CopyTo(destination[charsWritten..]);
            charsWritten += delta.Length;
            idsConsumed++;
        }
        return OperationStatus.DestinationTooSmall;
    }

    private static int Limit(EncodeSettings settings)
    {
        if (settings.MaxTokenCount <= 0) throw new ArgumentOutOfRangeException(nameof(settings), settings.MaxTokenCount, "MaxTokenCount must be positive.");
        return settings.MaxTokenCount;
    }

    private static int Consumed((int Start, int End)[] offsets, int count, string text) =>
        count == offsets.Length ? text.Length : count == 0 ? 0 : offsets[count - 1].End;

    /// <summary>Each token's character range in <paramref name="input"/>, or in the decoded text (returned) if that differs.</summary>
    private ((int Start, int End)[] Offsets, string? Normalized) Align(string input, int[] ids)
    {
        var decoder = _tokenizer.CreateDecoder(skipSpecialTokens: false);
        var deltas = new string[ids.Length];
        for (int i = 0; i < ids.Length; i++) deltas[i] = decoder.Append(ids[i]);
        string tail = decoder.Flush();
        if (ids.Length > 0 && tail.Length > 0) deltas[^1] += tail;

        var offsets = new (int, int)[ids.Length];
        int cursor = 0;
        bool aligned = true;
        for (int i = 0; i < ids.Length && aligned; i++)
        {
            string d = deltas[i];
            if (cursor + d.Length <= input.Length && string.CompareOrdinal(input, cursor, d, 0, d.Length) == 0)
            {
                offsets[i] = (cursor, cursor + d.Length);
                cursor += d.Length;
            }
            else if (_tokenizer.IsSpecialToken(ids[i])) offsets[i] = (cursor, cursor); // inserted by the post-processor
            else aligned = false;
        }
        if (aligned && cursor == input.Length) return (offsets, null);

        // The decoded text is not the input: offsets into the decoded text, which is returned as the normalized text.
        int pos = 0;
        for (int i = 0; i < ids.Length; i++) { offsets[i] = (pos, pos + deltas[i].Length); pos += deltas[i].Length; }
        return (offsets, string.Concat(deltas));
    }
}
