using PagedAttention.AI.KvCache;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Scheduling;
using PagedAttention.Tests.KvCache;
using static PagedAttention.Tests.KvCache.TestSeqs;

namespace PagedAttention.Tests.Scheduling;

/// <summary>Swap preemption in the scheduler (issue 21, item 1): swapped out with its computed tokens, resumed FCFS before new admissions.</summary>
public class SwapSchedulerTests
{
    private static Scheduler<TestSeq> Create(int numBlocks, int hostBlocks, PreemptionMode mode, ListLogger? log = null) =>
        new(new SchedulerOptions { MaxNumBatchedTokens = 1024, MaxNumSeqs = 16, Preemption = new PreemptionPolicy(1024, mode) },
            new KvCacheManager(numBlocks, 16, hostBlocks), log);

    private static List<(TestSeq Seq, int N)> Step(Scheduler<TestSeq> s)
    {
        var o = s.Schedule();
        var list = new List<(TestSeq, int)>();
        for (int i = 0; i < o.Count; i++) list.Add((o.Seq(i), o.NumTokens(i)));
        s.Kv.CopiesDone(); // the engine runs the copies here
        s.CommitStep(o);
        for (int i = 0; i < o.Count; i++)
        {
            var seq = o.Seq(i);
            if (seq.NumComputedTokens != seq.NumTokens) continue;
            if (seq.Append(7) is { } reason) s.Finish(seq, reason);
        }
        s.CheckInvariants();
        return list;
    }

    private static void StepUntil(Scheduler<TestSeq> s, Func<bool> done)
    {
        for (int i = 0; !done(); i++)
        {
            Assert.True(i < 300, "the condition never held");
            Step(s);
        }
    }

    [Fact]
    public void SwappedSequence_KeepsItsComputedTokens_AndResumesBeforeNewAdmissions_FCFS()
    {
        var log = new ListLogger();
        var s = Create(5, 16, PreemptionMode.Swap, log);
        var a = Make(Range(0, 30), maxTokens: 40);   // grows to 70 tokens = 5 blocks
        var b = Make(Range(100, 30), maxTokens: 4);
        var c = Make(Range(200, 30), maxTokens: 4);
        s.Add(a); s.Add(b); s.Add(c);
        Step(s); // a and b: 2 + 2 blocks; c does not fit
        Assert.Equal(SequenceStatus.Waiting, c.Status);
        StepUntil(s, () => b.Status == SequenceStatus.Swapped); // token 33: a takes the last block, b is swapped out
        Assert.Equal(SequenceStatus.Swapped, b.Status);
        int computed = b.NumComputedTokens;
        Assert.True(computed > 30);
        Assert.Empty(b.Blocks);
        Assert.Equal(s.Kv.BlocksFor(computed), b.Table.NumHostBlocks);
        Assert.Equal(16 - b.Table.NumHostBlocks, s.Kv.Host!.NumFree);
        Assert.Equal(1, s.NumSwapOuts);
        Assert.Equal(0, s.NumRecomputePreemptions);
        Assert.Contains(log.Entries, e => e.Message.Contains("swapped out") && e.Message.Contains("EngineOptions.NumKvBlocks"));

        // c arrived before b was swapped, but b resumes first (c may follow it in the same step), with nothing to recompute.
        for (int i = 0; b.Status == SequenceStatus.Swapped; i++)
        {
            Assert.True(i < 200, "b never resumed");
            var step = Step(s);
            if (b.Status == SequenceStatus.Swapped) Assert.DoesNotContain(step, x => x.Seq == c);
            else
            {
                var resumed = Assert.Single(step, x => x.Seq == b);
                Assert.Equal(1, resumed.N); // only its one new token
                Assert.True(step.IndexOf(resumed) < step.FindIndex(x => x.Seq == c) || !step.Any(x => x.Seq == c));
            }
        }
        Assert.True(s.NumSwapIns >= 1);
        StepUntil(s, () => !s.HasWork);
        Assert.Equal(16, s.Kv.Host.NumFree);
        Assert.Equal(5, s.Kv.Pool.NumFree);
        Assert.Equal(4, b.NumOutputTokens);
    }

    [Fact]
    public void FullSwapSpace_FallsBackToRecompute_AndNamesTheOption()
    {
        var log = new ListLogger();
        var s = Create(5, 1, PreemptionMode.Swap, log); // one host block: nothing of two blocks fits
        var a = Make(Range(0, 30), maxTokens: 40);
        var b = Make(Range(100, 30), maxTokens: 4);
        s.Add(a); s.Add(b);
        StepUntil(s, () => s.NumPreemptions > 0);
        Assert.Equal(SequenceStatus.Waiting, b.Status);
        Assert.Equal(1, s.NumRecomputePreemptions);
        Assert.Contains(log.Entries, e => e.Message.Contains("EngineOptions.SwapSpaceBytes"));
        StepUntil(s, () => !s.HasWork);
    }

    [Fact]
    public void FinishingWhileSwapped_FreesTheHostBlocks()
    {
        var s = Create(5, 16, PreemptionMode.Swap);
        var a = Make(Range(0, 30), maxTokens: 40);
        var b = Make(Range(100, 30), maxTokens: 4);
        s.Add(a); s.Add(b);
        StepUntil(s, () => b.Status == SequenceStatus.Swapped);
        s.Finish(b, null);
        Assert.Equal(16, s.Kv.Host!.NumFree);
        s.CheckInvariants();
        StepUntil(s, () => !s.HasWork);
    }

    /// <summary>
    /// The scheduler as the pipelined step drives it (<c>Engine.PipelinedStep</c>): step N's bookkeeping is committed and
    /// its sampling rows get a placeholder, step N+1 is scheduled (and its copies run) while N is in flight, then N's
    /// tokens resolve the placeholders (<paramref name="token"/> picks each one), stop rules finishing sequences.
    /// </summary>
    private sealed class Pipeline(Scheduler<TestSeq> s, Func<TestSeq, int> token)
    {
        private readonly SchedulerOutput<TestSeq>[] _outputs = [new(16), new(16)];
        private readonly bool[] _samples = new bool[16];
        private SchedulerOutput<TestSeq>? _inflight;
        private int _next;

        /// <summary>Victims swapped out while their last token was still a placeholder.</summary>
        public List<TestSeq> SwappedWithPlaceholder { get; } = new();

        public void Step()
        {
            var n = _inflight;
            if (n is not null)
            {
                s.CommitStep(n);
                for (int i = 0; i < n.Count; i++)
                    if (_samples[i] && n.Seq(i).Status == SequenceStatus.Running) n.Seq(i).AppendPlaceholder();
            }
            var next = _outputs[_next];
            _next ^= 1;
            var before = s.Swapped.ToHashSet();
            s.Schedule(next);
            foreach (var v in s.Swapped) if (!before.Contains(v) && v.HasPlaceholder) SwappedWithPlaceholder.Add(v);
            s.Kv.CopiesDone(); // the engine queues the copies here, after step N in device order
            if (n is not null)
            {
                for (int i = 0; i < n.Count; i++)
                {
                    var seq = n.Seq(i);
                    if (!_samples[i] || seq.IsFinished || !seq.HasPlaceholder) continue;
                    int t = token(seq);
                    seq.ResolvePlaceholder(t);
                    if (seq.Stop.Check(t, seq.NumOutputTokens, seq.NumTokens, out _) is { } reason) s.Finish(seq, reason);
                }
            }
            s.CheckInvariants();
            for (int i = 0; i < next.Count; i++) _samples[i] = !next.Seq(i).IsFinished && next.Samples(i);
            _inflight = next.Count > 0 ? next : null;
        }

        public void RunUntil(Func<bool> done)
        {
            for (int i = 0; !done(); i++)
            {
                Assert.True(i < 300, "the condition never held");
                Step();
            }
        }

        public void RunToEnd() => RunUntil(() => !s.HasWork && _inflight is null);
    }

    [Fact]
    public void Pipelined_VictimWithPlaceholder_IsSwappedOut_ResolvedWhileSwapped_AndResumes()
    {
        var s = Create(5, 16, PreemptionMode.Swap);
        var a = Make(Range(0, 30), maxTokens: 40); // grows to 70 tokens = 5 blocks
        var b = Make(Range(100, 30), maxTokens: 6);
        s.Add(a); s.Add(b);
        var p = new Pipeline(s, _ => 7);
        p.RunUntil(() => b.Status == SequenceStatus.Swapped); // token 33: a takes the last block, b (decoding) is the victim
        Assert.Equal([b], p.SwappedWithPlaceholder);
        Assert.Equal(1, s.NumSwapOutsWithPendingToken);
        Assert.Equal(0, s.NumRecomputePreemptions);
        // Its placeholder was resolved while swapped out: the token is known, its KV is not computed yet.
        Assert.False(b.HasPlaceholder);
        Assert.Equal(b.NumTokens - 1, b.NumComputedTokens);
        Assert.Equal(7, b.LastToken);
        Assert.Equal(s.Kv.BlocksFor(b.NumComputedTokens), b.Table.NumHostBlocks);
        int outputAtSwap = b.NumOutputTokens;

        p.RunUntil(() => b.Status != SequenceStatus.Swapped);
        Assert.Equal(SequenceStatus.Running, b.Status);
        Assert.Equal(outputAtSwap, b.NumOutputTokens); // resumed with its resolved token, nothing recomputed or lost
        Assert.True(s.NumSwapIns >= 1);
        p.RunToEnd();
        Assert.Equal(40, a.NumOutputTokens);
        Assert.Equal(6, b.NumOutputTokens);
        Assert.All(b.OutputTokens.ToArray(), t => Assert.Equal(7, t));
        Assert.Equal(16, s.Kv.Host!.NumFree);
        Assert.Equal(5, s.Kv.Pool.NumFree);
        Assert.Equal(0, s.NumSwapped);
    }

    [Theory]
    [InlineData(false)] // the resolved token is the end token
    [InlineData(true)]  // the resolved token is the last one max tokens allows
    public void Pipelined_SequenceFinishingOnItsResolvedPlaceholder_WhileSwapped_FreesItsHostBlocks(bool byLength)
    {
        var s = Create(5, 16, PreemptionMode.Swap);
        var a = Make(Range(0, 30), maxTokens: 40);
        // b is swapped out at its third output token (token 33, its 3rd block); by length, that token is its last.
        var b = Make(Range(100, 30), maxTokens: byLength ? 3 : 8);
        s.Add(a); s.Add(b);
        var p = new Pipeline(s, seq => !byLength && seq.Status == SequenceStatus.Swapped ? TestSeqs.Eos : 7);
        p.RunUntil(() => b.IsFinished || s.NumPreemptions > 0);
        Assert.Equal([b], p.SwappedWithPlaceholder);
        Assert.True(b.IsFinished, b.ToString());
        Assert.Equal(byLength ? FinishReason.Length : FinishReason.Stop, b.FinishReason);
        Assert.Equal(3, b.NumOutputTokens);
        Assert.DoesNotContain(b, s.Swapped);
        Assert.Equal(0, b.Table.NumHostBlocks);
        Assert.Equal(16, s.Kv.Host!.NumFree); // its host blocks are free (the copy out already ran)
        Assert.Equal(1, s.NumSwapOuts);
        Assert.Equal(0, s.NumSwapIns);
        p.RunToEnd();
        Assert.Equal(40, a.NumOutputTokens);
        Assert.Equal(16, s.Kv.Host.NumFree);
        Assert.Equal(5, s.Kv.Pool.NumFree);
    }

    [Fact]
    public void CostModel_SwapsLongSequences_RecomputesShortOnes()
    {
        // 1 MiB per block, 10 GB/s, 5,000 prefill tokens/s: swapping a block out and back costs 0.2 ms, 16 tokens 3.2 ms.
        var p = new PreemptionPolicy(1 << 20, PreemptionMode.Auto, guessBandwidth: 1e10, guessPrefillRate: 5e3);
        Assert.True(p.ShouldSwap(blocks: 8, computedTokens: 128));
        var slowCopy = new PreemptionPolicy(1 << 20, PreemptionMode.Auto, guessBandwidth: 1e8, guessPrefillRate: 5e3);
        Assert.False(slowCopy.ShouldSwap(blocks: 1, computedTokens: 10)); // 21 ms of copies vs 2 ms of prefill
        Assert.True(slowCopy.ShouldSwap(blocks: 64, computedTokens: 60_000)); // a long one: 1.3 s of copies vs 12 s
        // Measurements move the estimates.
        for (int i = 0; i < 50; i++) slowCopy.ObserveCopy(1L << 30, 0.1); // 10 GB/s measured
        Assert.True(slowCopy.ShouldSwap(blocks: 1, computedTokens: 10));
        Assert.False(new PreemptionPolicy(1, PreemptionMode.Recompute).ShouldSwap(1000, 1_000_000));
    }
}
