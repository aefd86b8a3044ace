using PagedAttention.Kernels;

namespace PagedAttention.AI.Models;

/// <summary>Where one tensor lives: its file, dtype string, shape and address in the mapped file.</summary>
internal sealed record TensorInfo(string Name, string File, string DTypeName, long[] Shape, nint Data, long Begin, long End)
{
    public DType DType(string context) => DTypeName switch
    {
        "F32" => Kernels.DType.F32,
        "F16" => Kernels.DType.F16,
        "BF16" => Kernels.DType.BF16,
        _ => throw new ModelLoadException(File, Name, $"dtype {DTypeName} is not supported for {context} (use F32, F16 or BF16; F8_E4M3 only for the linear layers of a compressed-tensors FP8 checkpoint)."),
    };

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
