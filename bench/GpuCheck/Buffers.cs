using PagedAttention.Kernels.Cuda;

namespace GpuCheck;

/// <summary>Device buffers filled from host arrays (checks only).</summary>
internal static unsafe class Buffers
{
    /// <summary>A device copy of <paramref name="a"/> (at least one element's worth of bytes).</summary>
    public static DeviceBuffer Up<T>(CudaDevice d, T[] a) where T : unmanaged
    {
        var b = d.Allocate(Math.Max(1, a.Length) * (long)sizeof(T));
        b.Upload<T>(a);
        return b;
    }
}
