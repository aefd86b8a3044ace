using PagedAttention.Kernels;
using PagedAttention.Kernels.Cuda;

namespace PagedAttention.AI.Models.Cuda;

/// <summary>Uploads checkpoint tensors: matrices as bf16 (f32/f16 rounded to nearest even), vectors as fp32.</summary>
internal static unsafe class CudaWeights
{
    private const int ChunkElements = 1 << 22;

    /// <summary>Copies the rows of each matrix, in order, into one new device matrix (merged QKV, gate|up).</summary>
    public static DeviceBuffer Matrix(CudaDevice device, params WeightMatrix[] parts)
    {
        long bytes = 0;
        foreach (var p in parts)
        {
            if (p.Cols != parts[0].Cols) throw new ArgumentException("Merged matrices must have the same number of columns.");
            bytes += (long)p.Rows * p.Cols * 2;
        }
        var buf = device.Allocate(bytes);
        try
        {
            long offset = 0;
            foreach (var p in parts) { Copy(buf, offset, p); offset += (long)p.Rows * p.Cols * 2; }
        }
        catch { buf.Dispose(); throw; }
        return buf;
    }

    private static void Copy(DeviceBuffer dst, long byteOffset, WeightMatrix w)
    {
        long n = (long)w.Rows * w.Cols;
        if (w.DType == DType.BF16) { dst.Upload(w.Data, n * 2, byteOffset); return; }
        if (w.DType is not (DType.F32 or DType.F16)) throw new ArgumentException($"A {w.DType} matrix cannot be uploaded as bf16.");
        var tmp = new ushort[(int)Math.Min(n, ChunkElements)];
        for (long start = 0; start < n; start += tmp.Length)
        {
            int count = (int)Math.Min(tmp.Length, n - start);
            if (w.DType == DType.F32)
            {
                var src = new ReadOnlySpan<float>((float*)w.Data + start, count);
                for (int i = 0; i < count; i++) tmp[i] = ToBf16(src[i]);
            }
            else
            {
                var src = new ReadOnlySpan<Half>((Half*)w.Data + start, count);
                for (int i = 0; i < count; i++) tmp[i] = ToBf16((float)src[i]);
            }
            dst.Upload<ushort>(tmp.AsSpan(0, count), byteOffset + start * 2);
        }
    }

    /// <summary>Round to nearest even, as torch's <c>.to(torch.bfloat16)</c>; NaN stays NaN.</summary>
    public static ushort ToBf16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40);
        u += 0x7fffu + ((u >> 16) & 1u);
        return (ushort)(u >> 16);
    }

    /// <summary>Uploads fp32 values (norm weights, biases, inverse frequencies); concatenates several.</summary>
    public static DeviceBuffer Vector(CudaDevice device, params float[][] parts)
    {
        var all = parts.SelectMany(p => p).ToArray();
        var buf = device.Allocate(all.Length * sizeof(float));
        buf.Upload<float>(all);
        return buf;
    }

    /// <summary>Uploads an optional vector; null when absent.</summary>
    public static DeviceBuffer? OptionalVector(CudaDevice device, params float[]?[] parts) =>
        parts.Any(p => p is null) ? null : Vector(device, parts.Select(p => p!).ToArray());

    /// <summary>The device address of an optional buffer, 0 when absent.</summary>
    public static ulong Ptr(DeviceBuffer? b) => b?.Ptr ?? 0;
}
