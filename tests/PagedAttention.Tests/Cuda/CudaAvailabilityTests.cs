using PagedAttention.Kernels;
using PagedAttention.Kernels.Cuda;
using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Tests.Cuda;

/// <summary>The assembly loads and CPU work goes on without CUDA; asking for a GPU then fails with a clear message.</summary>
public class CudaAvailabilityTests
{
    [Fact]
    public void OpeningADeviceWithoutCudaNamesTheMissingLibrary()
    {
        if (CudaDevice.IsAvailable) return; // on a GPU machine the opposite case is covered by CudaModelTests
        var e = Assert.Throws<CudaException>(() => CudaDevice.Open(new RuntimeSwitches()));
        Assert.True(e.Message.Contains("libcuda", StringComparison.Ordinal) || e.Call == "cuInit", e.Message);
    }

    [Fact]
    public void ExceptionNamesCallAndError()
    {
        var e = new CudaException("cuMemAlloc", 2, "CUDA_ERROR_OUT_OF_MEMORY", "64 GiB");
        Assert.Equal("cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (2): 64 GiB", e.Message);
        Assert.Equal(2, e.ErrorCode);
    }

    [Fact]
    public void NegativeDeviceOrdinalIsRejectedBeforeTouchingTheDriver() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => CudaDevice.Open(new RuntimeSwitches(), -1));
}
