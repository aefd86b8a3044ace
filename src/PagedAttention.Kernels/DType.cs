namespace PagedAttention.Kernels;

/// <summary>Element type of a tensor stored in a checkpoint or on a device.</summary>
internal enum DType
{
    /// <summary>IEEE 754 binary32.</summary>
    F32,
    /// <summary>IEEE 754 binary16.</summary>
    F16,
    /// <summary>bfloat16: the upper 16 bits of a binary32.</summary>
    BF16,
    /// <summary>
    /// Quantized weights: signed int8, symmetric, one float32 scale per row; rows padded with zeros to a multiple of
    /// 64 columns (docs/cpu-kernels.md, "Quantized weights"). CPU only; produced at load by <c>WeightQuantizer</c>.
    /// </summary>
    Int8,
    /// <summary>
    /// Quantized weights: signed int4 in blocks of 64 columns, symmetric, one float32 scale per 32 columns, two weights
    /// per byte; rows padded to a multiple of 64 columns (docs/cpu-kernels.md). CPU only; produced at load.
    /// </summary>
    Int4,
    /// <summary>
    /// FP8 E4M3 weights (<see cref="Fp8E4M3"/>) with one float32 scale per row (a per-tensor scale is stored repeated):
    /// element [r, c] = E4M3(code) * scale[r]. Read from compressed-tensors FP8 checkpoints; the CPU widens the codes
    /// on the fly and applies the row scale to each dot product (docs/cpu-kernels.md, "FP8 checkpoints").
    /// </summary>
    F8E4M3,
}

/// <summary>Helpers for <see cref="DType"/>.</summary>
internal static class DTypeExtensions
{
    /// <summary>Bytes per element (not defined for <see cref="DType.Int4"/>, half a byte; use <see cref="WeightMatrix.RowBytes"/>).</summary>
    public static int SizeInBytes(this DType dtype) => dtype switch
    {
        DType.F32 => 4,
        DType.F16 => 2,
        DType.BF16 => 2,
        DType.Int8 => 1,
        DType.F8E4M3 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };
}

