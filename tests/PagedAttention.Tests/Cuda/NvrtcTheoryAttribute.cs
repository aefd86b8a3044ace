using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Tests.Cuda;

/// <summary>A theory that needs NVRTC (no GPU): skipped, with the reason, where no libnvrtc can be loaded.</summary>
public sealed class NvrtcTheoryAttribute : TheoryAttribute
{
    public NvrtcTheoryAttribute()
    {
        if (!NvrtcCompiler.IsAvailable) Skip = "NVRTC not found (libnvrtc.so.13/.12/.11.2); install libnvrtc11.2 to compile-check the kernels.";
    }
}
