using System.Runtime.InteropServices;
using PagedAttention.AI.Models.Cuda;

namespace PagedAttention.Tests.Cuda;

/// <summary>Host-side pieces of the CUDA step that run without a GPU: block-table compaction and driver struct layouts.</summary>
public class StepLayoutTests
{
    [Theory]
    [InlineData(new[] { 1 }, 16, 8192, 8)]            // a single block still gets the minimum stride
    [InlineData(new[] { 128, 129 }, 16, 8192, 16)]    // 9 blocks -> next power of two
    [InlineData(new[] { 2048, 5, 300 }, 16, 8192, 128)]
    [InlineData(new[] { 8000 }, 16, 512, 512)]        // capped at MaxBlocksPerSeq
    [InlineData(new[] { 4096 }, 16, 256, 256)]
    [InlineData(new[] { 17 }, 32, 8192, 8)]
    public void TableStrideIsThePowerOfTwoCoveringTheLongestContextCappedAtTheTableWidth(int[] contexts, int blockSize, int maxBlocks, int expected)
    {
        int stride = CudaStepBuffers.TableStride(contexts, blockSize, maxBlocks);
        Assert.Equal(expected, stride);
        int used = contexts.Max(c => (c + blockSize - 1) / blockSize);
        Assert.True(stride >= Math.Min(used, maxBlocks), "every block a kernel reads must be staged");
    }

    [Fact]
    public void LaunchStructsMatchCudaH()
    {
        // cuLaunchKernelEx reads these by layout (cuda.h, 64-bit): CUlaunchConfig is 56 bytes with hStream at 32, attrs
        // at 40 and numAttrs at 48; CUlaunchAttribute is an id, 4 bytes of padding and a 64-byte value union.
        var asm = typeof(PagedAttention.Kernels.Cuda.CudaKernels).Assembly;
        var config = asm.GetType("PagedAttention.Kernels.Cuda.Interop.LaunchConfig", throwOnError: true)!;
        var attr = asm.GetType("PagedAttention.Kernels.Cuda.Interop.LaunchAttribute", throwOnError: true)!;
        Assert.Equal(56, Marshal.SizeOf(config));
        Assert.Equal(32, (int)Marshal.OffsetOf(config, "Stream"));
        Assert.Equal(40, (int)Marshal.OffsetOf(config, "Attributes"));
        Assert.Equal(48, (int)Marshal.OffsetOf(config, "NumAttributes"));
        Assert.Equal(72, Marshal.SizeOf(attr));
        Assert.Equal(8, (int)Marshal.OffsetOf(attr, "Value"));
    }
}
