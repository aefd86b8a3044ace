namespace PagedAttention.AI.Models;

/// <summary>
/// Upper bounds on config.json sizes, checked before anything is sized from them. Each is far above any released
/// Llama-family model (Llama 3.1 405B: hidden 16,384, intermediate 53,248, 126 layers, 128 heads, head_dim 128,
/// vocab 128,256, 131,072 positions) and low enough that products of them cannot overflow the arithmetic that sizes
/// buffers. docs/models.md lists them.
/// </summary>
internal static class ConfigLimits
{
    public const int HiddenSize = 65_536;
    public const int IntermediateSize = 262_144;
    public const int NumLayers = 1_024;
    public const int NumHeads = 1_024;
    public const int HeadDim = 1_024;
    public const int VocabSize = 4_194_304;
    public const int MaxPositionEmbeddings = 16_777_216;

    /// <summary>The limit of a config.json integer field, or null for fields without one.</summary>
    public static int? Of(string field) => field switch
    {
        "hidden_size" => HiddenSize,
        "intermediate_size" => IntermediateSize,
        "num_hidden_layers" => NumLayers,
        "num_attention_heads" or "num_key_value_heads" => NumHeads,
        "head_dim" => HeadDim,
        "vocab_size" => VocabSize,
        "max_position_embeddings" => MaxPositionEmbeddings,
        _ => null,
    };
}
