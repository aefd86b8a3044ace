namespace PagedAttention.AI.Models;

/// <summary>
/// A GPTQ 4-bit symmetric checkpoint's <c>quantization_config</c> (docs/cpu-kernels.md, "Reading GPTQ checkpoints").
/// </summary>
/// <param name="GroupSize">Inputs per scale: a multiple of 32, or -1 for a whole row.</param>
/// <param name="ZerosMinusOne">checkpoint_format gptq (AutoGPTQ v1): qzeros hold the zero point minus one (7 for sym); gptq_v2: the zero point itself (8).</param>
internal sealed record GptqFormat(int GroupSize, bool ZerosMinusOne)
{
    /// <summary>The stored zero nibble every group of a symmetric checkpoint holds.</summary>
    public int StoredZero => ZerosMinusOne ? 7 : 8;
}
