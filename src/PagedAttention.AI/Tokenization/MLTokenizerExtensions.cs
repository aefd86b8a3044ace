using TextTokenizer = PagedAttention.Text.Tokenization.Tokenizer;

namespace PagedAttention.AI.Tokenization;

/// <summary>Adapts a model's tokenizer to Microsoft.ML.Tokenizers.</summary>
public static class MLTokenizerExtensions
{
    /// <summary>
    /// <paramref name="tokenizer"/> as a <see cref="Microsoft.ML.Tokenizers.Tokenizer"/> (e.g.
    /// <c>engine.Tokenizer!.AsMLTokenizer()</c> for SK's <c>TextChunker</c> token counter).
    /// </summary>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="addSpecialTokens">Apply the post-processor when encoding (e.g. prepend BOS); off by default.</param>
    /// <param name="skipSpecialTokens">Leave special tokens out of decoded text.</param>
    public static MLTokenizerAdapter AsMLTokenizer(this TextTokenizer tokenizer, bool addSpecialTokens = false, bool skipSpecialTokens = false) =>
        new(tokenizer, addSpecialTokens, skipSpecialTokens);
}
