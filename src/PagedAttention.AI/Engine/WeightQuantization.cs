namespace PagedAttention.AI.Engine;

/// <summary>How the backend stores the decoder layers' linear weights (<see cref="EngineOptions.WeightQuantization"/>).</summary>
public enum WeightQuantization
{
    /// <summary>The checkpoint's dtype (F32, F16 or BF16), memory-mapped and widened on the fly.</summary>
    None,

    /// <summary>Signed int8, one scale per output row (symmetric), quantized at load: half the bytes of bf16.</summary>
    Int8,

    /// <summary>Signed int4, one scale per 32 inputs (symmetric), quantized at load: about a third of the bytes of bf16 (5 bits per weight).</summary>
    Int4,

    /// <summary>
    /// FP8 E4M3, one scale per output row (<c>max|w| / 448</c>), quantized at load: half the bytes of bf16, run by the
    /// CPU's FP8 GEMV (docs/cpu-kernels.md, "FP8 checkpoints") or, on CUDA, as W8A8 GEMMs with activations quantized
    /// per token (docs/cuda.md, "FP8 weights").
    /// </summary>
    Fp8,
}
