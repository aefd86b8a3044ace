using PagedAttention.Kernels;
using PagedAttention.Kernels.Cuda;

namespace PagedAttention.AI.Models.Cuda;

/// <summary>
/// One linear layer's weights on the device, [Rows, Cols] row-major like <c>nn.Linear</c>: bf16, or FP8 E4M3 codes
/// with one fp32 scale per output row (W8A8 through <see cref="CudaBlas.GemmFp8"/>). Several checkpoint matrices
/// with the same columns are stacked row after row (merged QKV, gate|up).
/// </summary>
internal sealed class CudaLinear : IDisposable
{
    private CudaLinear(DeviceBuffer weights, DeviceBuffer? scales, int rows, int cols)
    {
        Weights = weights;
        Scales = scales;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>bf16 values, or E4M3 codes when <see cref="IsFp8"/>.</summary>
    public DeviceBuffer Weights { get; }

    /// <summary>fp32 scale per row of an FP8 matrix (element [r, c] = E4M3(code) × scale[r]); null for bf16.</summary>
    public DeviceBuffer? Scales { get; }

    public int Rows { get; }
    public int Cols { get; }

    public bool IsFp8 => Scales is not null;

    /// <summary>Device bytes a GEMM reads (codes or values, and scales).</summary>
    public long Bytes => Weights.Bytes + (Scales?.Bytes ?? 0);

    /// <summary>Stacks <paramref name="parts"/> as bf16 (f32/f16 rounded to nearest even).</summary>
    public static CudaLinear Bf16(CudaDevice device, params WeightMatrix[] parts) =>
        new(CudaWeights.Matrix(device, parts), null, parts.Sum(p => p.Rows), parts[0].Cols);

    /// <summary>
    /// Stacks <paramref name="parts"/> as FP8: an FP8 checkpoint's codes and scales are copied as they are; a float
    /// matrix is uploaded as bf16 and quantized per row on the device by <see cref="CudaKernels.QuantizeRowsFp8"/>
    /// (the rule of <see cref="Fp8Quantizer"/>, which the CPU's WeightQuantization.Fp8 uses: the same codes).
    /// </summary>
    public static unsafe CudaLinear Fp8(CudaDevice device, CudaKernels kernels, params WeightMatrix[] parts)
    {
        int cols = parts[0].Cols, rows = 0;
        foreach (var p in parts)
        {
            if (p.Cols != cols) throw new ArgumentException("Merged matrices must have the same number of columns.");
            if (p.DType is not (DType.F8E4M3 or DType.BF16 or DType.F16 or DType.F32))
                throw new ArgumentException($"A {p.DType} matrix cannot be stored as FP8 on the device.");
            rows += p.Rows;
        }
        var codes = device.Allocate((long)rows * cols);
        DeviceBuffer? scales = null;
        try
        {
            scales = device.Allocate((long)rows * sizeof(float));
            int r0 = 0;
            foreach (var p in parts)
            {
                if (p.DType == DType.F8E4M3)
                {
                    codes.Upload(p.Data, (long)p.Rows * cols, (long)r0 * cols);
                    scales.Upload(p.Scales, (long)p.Rows * sizeof(float), (long)r0 * sizeof(float));
                }
                else
                {
                    using var bf16 = CudaWeights.Matrix(device, p);
                    kernels.QuantizeRowsFp8(bf16.Ptr, codes.Ptr + (ulong)((long)r0 * cols), scales.Ptr + (ulong)(r0 * sizeof(float)), p.Rows, cols);
                    device.Synchronize(); // before the bf16 copy is freed
                }
                r0 += p.Rows;
            }
            return new CudaLinear(codes, scales, rows, cols);
        }
        catch
        {
            codes.Dispose();
            scales?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Weights.Dispose();
        Scales?.Dispose();
    }
}
