using System.Runtime.InteropServices;
using PagedAttention.Kernels.Cuda;

namespace PagedAttention.Tests.Cuda;

/// <summary>The host side of the cuBLASLt GEMM path: shape buckets and the cublasLt.h struct layouts read by address.</summary>
public class GemmBucketTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(7, 8)]
    [InlineData(8, 8)]
    [InlineData(9, 16)]
    [InlineData(256, 256)]
    [InlineData(257, 512)]
    [InlineData(8191, 8192)]
    [InlineData(8192, 8192)]
    [InlineData(8193, 16384)]
    [InlineData(20000, 24576)]
    public void BucketIsTheNextPowerOfTwoThenAMultipleOfTheLargest(int m, int expected) => Assert.Equal(expected, GemmBucket.Of(m));

    [Fact]
    public void EveryRowCountFallsInABucketThatCoversItAndPaddedDecodeBatchesAreTheirBucketsTop()
    {
        for (int m = 1; m <= 3 * GemmBucket.LargestPowerOfTwo; m++)
        {
            int b = GemmBucket.Of(m);
            Assert.True(b >= m && b < 2 * m + GemmBucket.LargestPowerOfTwo, $"m={m} bucket={b}");
            Assert.Equal(b, GemmBucket.Of(b)); // a bucket's top is in its own bucket
        }
        for (int p = 1; p <= 1024; p <<= 1) Assert.Equal(p, GemmBucket.Of(p));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void NonPositiveRowsAreRejected(int m) => Assert.Throws<ArgumentOutOfRangeException>(() => GemmBucket.Of(m));

    [Fact]
    public void HeuristicResultMatchesCublasLtH()
    {
        // cublasLt.h (64-bit): cublasLtMatmulAlgo_t is uint64_t[8]; cublasLtMatmulHeuristicResult_t is
        // { algo; size_t workspaceSize; cublasStatus_t state; float wavesCount; int reserved[4]; } = 96 bytes.
        var asm = typeof(CudaBlas).Assembly;
        var algo = asm.GetType("PagedAttention.Kernels.Cuda.Interop.CublasLtAlgo", throwOnError: true)!;
        var result = asm.GetType("PagedAttention.Kernels.Cuda.Interop.CublasLtHeuristicResult", throwOnError: true)!;
        Assert.Equal(64, Marshal.SizeOf(algo));
        Assert.Equal(96, Marshal.SizeOf(result));
        Assert.Equal(0, (int)Marshal.OffsetOf(result, "Algo"));
        Assert.Equal(64, (int)Marshal.OffsetOf(result, "WorkspaceSize"));
        Assert.Equal(72, (int)Marshal.OffsetOf(result, "State"));
        Assert.Equal(76, (int)Marshal.OffsetOf(result, "WavesCount"));
        Assert.Equal(80, (int)Marshal.OffsetOf(result, "Reserved"));
    }
}
