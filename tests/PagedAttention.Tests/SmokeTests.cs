using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;

namespace PagedAttention.Tests;

public class SmokeTests
{
    [Fact]
    public void SoftmaxSumsToOne()
    {
        float[] x = [1, 2, 3];
        CpuOps.Softmax(x);
        Assert.Equal(1f, x.Sum(), 5);
        Assert.True(x[2] > x[1]);
        Assert.Equal(4, DType.F32.SizeInBytes());
    }
}
