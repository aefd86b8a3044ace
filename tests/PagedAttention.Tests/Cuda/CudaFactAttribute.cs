using PagedAttention.Kernels.Cuda;

namespace PagedAttention.Tests.Cuda;

/// <summary>A fact that needs a CUDA GPU: skipped, with the reason, where libcuda.so.1 or a device is missing (CI).</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!CudaDevice.IsAvailable) Skip = "No CUDA device: libcuda.so.1 cannot be loaded or reports no GPU.";
    }
}
