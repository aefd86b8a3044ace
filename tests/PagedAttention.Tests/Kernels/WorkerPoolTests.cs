using PagedAttention.Kernels.Cpu;

namespace PagedAttention.Tests.Kernels;

public unsafe class WorkerPoolTests
{
    private static void Hit(void* context, int i) => Interlocked.Increment(ref ((int*)context)[i]);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void RunsEveryTaskExactlyOnce(int threads)
    {
        using var pool = new CpuWorkerPool(threads, spinIterations: 10);
        var hits = new int[1000];
        fixed (int* p = hits)
        {
            for (int round = 0; round < 200; round++)
                pool.Run(&Hit, p, round % 7 == 0 ? 1000 : round % 50);
        }
        int expected = 0;
        for (int round = 0; round < 200; round++) expected += round % 7 == 0 ? 1000 : round % 50;
        Assert.Equal(expected, hits.Sum());
    }

    [Fact]
    public void ConcurrentDispatchersAreSafe()
    {
        using var pool = new CpuWorkerPool(3, spinIterations: 10);
        var results = new int[4][];
        Parallel.For(0, 4, t =>
        {
            var hits = new int[64];
            fixed (int* p = hits)
                for (int round = 0; round < 300; round++) pool.Run(&Hit, p, 64);
            results[t] = hits;
        });
        foreach (var hits in results) Assert.All(hits, h => Assert.Equal(300, h));
    }

    [Fact]
    public void WorkersWakeAfterSleeping()
    {
        using var pool = new CpuWorkerPool(2, spinIterations: 0);
        var hits = new int[16];
        fixed (int* p = hits)
        {
            for (int round = 0; round < 20; round++)
            {
                pool.Run(&Hit, p, 16);
                Thread.Sleep(1);
            }
        }
        Assert.All(hits, h => Assert.Equal(20, h));
    }

    [Fact]
    public void DisposedPoolRunsInline()
    {
        var pool = new CpuWorkerPool(2);
        pool.Dispose();
        var hits = new int[8];
        fixed (int* p = hits) pool.Run(&Hit, p, 8);
        Assert.All(hits, h => Assert.Equal(1, h));
    }
}
