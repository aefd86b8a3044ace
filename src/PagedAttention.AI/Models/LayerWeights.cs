using PagedAttention.Kernels;

namespace PagedAttention.AI.Models;

/// <summary>One decoder layer's weights: matrices are views into the mapped checkpoint, vectors are float32 copies.</summary>
internal sealed class LayerWeights
{
    public required float[] InputNorm { get; init; }
    public required WeightMatrix Q { get; init; }
    public required WeightMatrix K { get; init; }
    public required WeightMatrix V { get; init; }
    public required WeightMatrix O { get; init; }
    public float[]? QBias { get; init; }
    public float[]? KBias { get; init; }
    public float[]? VBias { get; init; }
    public float[]? OBias { get; init; }
    public float[]? QNorm { get; init; }
    public float[]? KNorm { get; init; }
    public required float[] PostAttentionNorm { get; init; }
    public required WeightMatrix Gate { get; init; }
    public required WeightMatrix Up { get; init; }
    public required WeightMatrix Down { get; init; }

    public static LayerWeights Load(CheckpointTensors t, ModelConfig c, int layer) =>
        Load(t, c, layer, (name, rows, cols) => t.Matrix(name + ".weight", rows, cols));

    /// <summary>
    /// As <see cref="Load(CheckpointTensors, ModelConfig, int)"/>, each linear weight from <paramref name="linear"/>(module
    /// name without <c>.weight</c>, rows, cols): a float weight, or a pre-quantized one (GPTQ).
    /// </summary>
    public static LayerWeights Load(CheckpointTensors t, ModelConfig c, int layer, Func<string, int, int, WeightMatrix> linear)
    {
        string p = $"model.layers.{layer}.";
        int h = c.HiddenSize, qDim = c.NumHeads * c.HeadDim, kvDim = c.NumKvHeads * c.HeadDim;
        return new LayerWeights
        {
            InputNorm = t.Vector(p + "input_layernorm.weight", h),
            Q = linear(p + "self_attn.q_proj", qDim, h),
            K = linear(p + "self_attn.k_proj", kvDim, h),
            V = linear(p + "self_attn.v_proj", kvDim, h),
            O = linear(p + "self_attn.o_proj", h, qDim),
            QBias = c.QkvBias ? t.Vector(p + "self_attn.q_proj.bias", qDim) : null,
            KBias = c.QkvBias ? t.Vector(p + "self_attn.k_proj.bias", kvDim) : null,
            VBias = c.QkvBias ? t.Vector(p + "self_attn.v_proj.bias", kvDim) : null,
            OBias = c.OBias ? t.Vector(p + "self_attn.o_proj.bias", h) : null,
            QNorm = c.QkNorm ? t.Vector(p + "self_attn.q_norm.weight", c.HeadDim) : null,
            KNorm = c.QkNorm ? t.Vector(p + "self_attn.k_norm.weight", c.HeadDim) : null,
            PostAttentionNorm = t.Vector(p + "post_attention_layernorm.weight", h),
            Gate = linear(p + "mlp.gate_proj", c.IntermediateSize, h),
            Up = linear(p + "mlp.up_proj", c.IntermediateSize, h),
            Down = linear(p + "mlp.down_proj", h, c.IntermediateSize),
        };
    }
}
