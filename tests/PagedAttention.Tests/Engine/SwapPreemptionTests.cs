using PagedAttention.AI.Engine;
using PagedAttention.AI.Scheduling;
using PagedAttention.Tests.Scheduling;

using static PagedAttention.Tests.Engine.EngineTestKit;

namespace PagedAttention.Tests.Engine;

/// <summary>
/// Swap preemption on the CPU (issue 21, items 1 and 6): on every tiny checkpoint, under a pool small enough to force
/// preemption, greedy outputs are identical with swap, with recompute, by the cost model, and with no pressure.
/// </summary>
public class SwapPreemptionTests
{
    public static TheoryData<string> ModelNames => new() { "llama", "llama-bf16", "mistral", "qwen2", "qwen3" };

    private static Task<LlmEngine> Load(string model, int blocks, PreemptionMode mode, long swapBytes, ListLogger? log = null) =>
        LlmEngine.LoadAsync(new EngineOptions
        {
            ModelPath = TestData.Model(model), NumKvBlocks = blocks, MaxNumBatchedTokens = 64, MaxNumSeqs = 16,
            SwapSpaceBytes = swapBytes, PreemptionMode = mode, Logger = log,
        });

    [Theory]
    [MemberData(nameof(ModelNames))]
    public async Task Greedy_IsIdentical_WithSwap_WithRecompute_ByCost_AndWithoutPressure(string model)
    {
        var prompts = Prompts(24, seed: 17);
        int[][] expected;
        await using (var roomy = await Load(model, 512, PreemptionMode.Auto, 0))
            expected = await Task.WhenAll(prompts.Select(p => Tokens(roomy, p, Greedy(24))));

        foreach (var (mode, swap) in new[] { (PreemptionMode.Recompute, 0L), (PreemptionMode.Swap, 4L << 20), (PreemptionMode.Auto, 4L << 20) })
        {
            var log = new ListLogger();
            await using var e = await Load(model, 14, mode, swap, log);
            e.VerifyInvariants = true;
            var got = await Task.WhenAll(prompts.Select(p => Tokens(e, p, Greedy(24))));
            for (int i = 0; i < prompts.Length; i++) Assert.True(expected[i].SequenceEqual(got[i]), $"{model} {mode}: prompt {i} differs");
            var m = await WaitIdle(e);
            Assert.True(m.Preemptions > 0, $"{mode}: {m}");
            Assert.Equal(m.KvBlocksTotal, m.KvBlocksFree);
            Assert.Equal(m.HostBlocksTotal, m.HostBlocksFree);
            if (mode == PreemptionMode.Recompute) Assert.Equal(0, m.SwapOuts);
            else
            {
                Assert.True(m.SwapOuts > 0 && m.SwapIns == m.SwapOuts, $"{mode}: {m}");
                Assert.True(m.SwapBytesIn <= m.SwapBytesOut, m.ToString()); // blocks still in the prefix cache come back by reference
                Assert.True(m.SwapBytesOut > 0 && m.SwapSeconds > 0);
                Assert.Equal(m.SwapIssueSeconds, m.SwapSeconds); // the CPU copies as it issues: the time is the copies'
                Assert.Contains(log.Entries, x => x.Message.Contains("swapped out to host memory"));
            }
            if (mode == PreemptionMode.Swap) Assert.Equal(m.Preemptions, m.SwapOuts + m.RecomputePreemptions);
            Assert.Null(e.LoopFailure);
        }
    }

    /// <summary>The pipelined engine on <see cref="AsyncHostRunner"/> with <paramref name="blocks"/> KV blocks and swap on; invariants checked every step.</summary>
    private static (AsyncHostRunner Runner, LlmEngine Engine, SchedulerProbe Scheduler) PipelinedSwap(string dir, int blocks, double? reportedCopySeconds = null)
    {
        var runner = new AsyncHostRunner(dir, blocks, 16, 16) { ReportedSwapCopySeconds = reportedCopySeconds };
        var e = LlmEngine.Create(runner, new EngineOptions
        {
            ModelPath = dir, MaxNumSeqs = 16, MaxNumBatchedTokens = 64, SwapSpaceBytes = 4L << 20, PreemptionMode = PreemptionMode.Swap,
        });
        e.VerifyInvariants = true;
        var probe = new SchedulerProbe();
        e.AfterStep = x => probe.Last = x;
        return (runner, e, probe);
    }

    /// <summary>The scheduler as of the last step.</summary>
    private sealed class SchedulerProbe { public Scheduler<EngineSequence>? Last; }

    [Theory]
    [InlineData(20)]
    [InlineData(9)]
    public async Task Pipelined_WithSwap_SwapsVictimsWithPlaceholders_AndEqualsUnpressured(int maxTokens)
    {
        // The pipelined step (AsyncHostRunner): every running decode sequence ends in the placeholder of the token in
        // flight, so the victims of a full decode batch have one; they must swap (they used to be recomputed: 0 swaps).
        string dir = TestData.Model("llama");
        var prompts = Prompts(16, seed: 23);
        int[][] expected;
        await using (var roomy = await Load("llama", 512, PreemptionMode.Auto, 0))
            expected = await Task.WhenAll(prompts.Select(p => Tokens(roomy, p, Greedy(maxTokens))));
        var (runner, e, probe) = PipelinedSwap(dir, 14);
        await using var _ = e;
        // The same schedule every run: a one-token request holds the first step at its launch while all prompts queue,
        // so they enter the scheduler together.
        runner.Gate.Reset();
        var first = Tokens(e, [5, 6, 7], Greedy(1));
        for (int i = 0; e.GetMetrics().Running == 0; i++)
        {
            Assert.True(i < 1000, "the first request was never scheduled");
            await Task.Delay(5);
        }
        var all = prompts.Select(p => Tokens(e, p, Greedy(maxTokens))).ToArray();
        runner.Gate.Set();
        await first;
        var got = await Task.WhenAll(all);
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(expected[i], got[i]);
        var m = await WaitIdle(e);
        var sched = Assert.IsType<Scheduler<EngineSequence>>(probe.Last);
        Assert.True(sched.NumSwapOutsWithPendingToken > 0, m.ToString());
        Assert.True(m.SwapOuts >= sched.NumSwapOutsWithPendingToken, m.ToString());
        Assert.Equal(m.Preemptions, m.SwapOuts + m.RecomputePreemptions);
        // A swapped sequence either swaps back in or ends on the token resolved while it was swapped out (never aborted here).
        Assert.True(m.SwapIns <= m.SwapOuts, m.ToString());
        Assert.Equal(m.KvBlocksTotal, m.KvBlocksFree);
        Assert.Equal(m.HostBlocksTotal, m.HostBlocksFree);
        Assert.Equal(0, m.Swapped);
        Assert.Null(e.LoopFailure);
    }

    [Theory]
    [InlineData(3)] // b's third token, in flight when b is swapped out, is its last: it ends while swapped out
    [InlineData(8)] // b swaps back in and goes on
    public async Task Pipelined_VictimWhoseTokenInFlight_EndsItWhileSwapped_FreesItsHostBlocks(int maxTokensB)
    {
        // 5 blocks of 16: a (30 + 40 tokens) needs all 5 at the end, b (30 + up to 8) 3. Both decode; at token 32 a takes
        // the last free block and b, the newest, is preempted with its third output token in flight: swapped out.
        string dir = TestData.Model("llama");
        var rnd = new Random(5);
        int[] a = Enumerable.Range(0, 30).Select(_ => rnd.Next(3, 384)).ToArray(), b = Enumerable.Range(0, 30).Select(_ => rnd.Next(3, 384)).ToArray();
        int[] expectedA, expectedB;
        await using (var roomy = await Load("llama", 512, PreemptionMode.Auto, 0))
        {
            expectedA = await Tokens(roomy, a, Greedy(40));
            expectedB = await Tokens(roomy, b, Greedy(maxTokensB));
        }
        var (runner, e, probe) = PipelinedSwap(dir, 5);
        await using var _ = e;
        // Both must be in before a gets ahead (a slow test thread could otherwise submit b after a is done with its
        // blocks): the first step waits at its launch until both are queued or scheduled.
        runner.Gate.Reset();
        var ta = Tokens(e, a, Greedy(40));
        var tb = Tokens(e, b, Greedy(maxTokensB));
        for (int i = 0; e.GetMetrics() is var q && q.Running + q.Waiting < 2; i++)
        {
            Assert.True(i < 1000, "the requests were never queued");
            await Task.Delay(5);
        }
        runner.Gate.Set();
        Assert.Equal(expectedB, await tb);
        Assert.Equal(expectedA, await ta);
        var m = await WaitIdle(e);
        var sched = Assert.IsType<Scheduler<EngineSequence>>(probe.Last);
        Assert.Equal(1, sched.NumSwapOutsWithPendingToken);
        Assert.Equal(1, m.SwapOuts);
        Assert.Equal(0, m.RecomputePreemptions);
        Assert.Equal(maxTokensB == 3 ? 0 : 1, m.SwapIns);
        Assert.Equal(m.KvBlocksTotal, m.KvBlocksFree);
        Assert.Equal(m.HostBlocksTotal, m.HostBlocksFree);
        Assert.Equal(0, m.Swapped);
        Assert.Null(e.LoopFailure);
    }

    [Fact]
    public async Task SwapSeconds_AreTheRunnersCopyTime_WhereItTimesThem()
    {
        // A device queues its copies, so the time the step loop spends in SwapOut / SwapIn is not theirs (the CUDA
        // kernel path queued 260 GiB "in 0.01 s"); the runner's own measurement is (CUDA: events on the copy stream).
        var (_, e, _) = PipelinedSwap(TestData.Model("llama"), 14, reportedCopySeconds: 12.5);
        await using var _ = e;
        await Task.WhenAll(Prompts(16, seed: 23).Select(p => Tokens(e, p, Greedy(20))));
        var m = await WaitIdle(e);
        Assert.True(m.SwapOuts > 0, m.ToString());
        Assert.Equal(12.5, m.SwapSeconds);
        Assert.True(m.SwapIssueSeconds > 0 && m.SwapIssueSeconds < 12.5, m.ToString());
    }

    [Fact]
    public async Task SwapSpace_IsValidated()
    {
        Assert.Throws<ArgumentException>(() => new EngineOptions { SwapSpaceBytes = -1 }.Validate());
        await using var e = await Load("llama", 64, PreemptionMode.Auto, 1 << 20);
        var m = e.GetMetrics();
        Assert.True(m.HostBlocksTotal > 0 && m.HostBlocksFree == m.HostBlocksTotal, m.ToString());
    }
}
