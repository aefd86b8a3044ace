using Microsoft.Extensions.Logging;
using PagedAttention.AI.KvCache;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Scheduling;
using PagedAttention.Tests.KvCache;
using static PagedAttention.Tests.KvCache.TestSeqs;

namespace PagedAttention.Tests.Scheduling;

public class SchedulerTests
{
    private static Scheduler<TestSeq> Create(int numBlocks, int budget, int maxSeqs = 16, ILogger? logger = null, int threshold = 0) =>
        new(new SchedulerOptions { MaxNumBatchedTokens = budget, MaxNumSeqs = maxSeqs, LongPrefillTokenThreshold = threshold }, new KvCacheManager(numBlocks, 16), logger);

    /// <summary>Runs one step as the engine would: forward (nothing), commit, sample token 7 for every finished chunk.</summary>
    private static List<(TestSeq Seq, int N)> Step(Scheduler<TestSeq> s, int token = 7)
    {
        var o = s.Schedule();
        var list = new List<(TestSeq, int)>();
        for (int i = 0; i < o.Count; i++) list.Add((o.Seq(i), o.NumTokens(i)));
        s.CommitStep(o);
        for (int i = 0; i < o.Count; i++)
        {
            var seq = o.Seq(i);
            if (seq.NumComputedTokens != seq.NumTokens) continue;
            if (seq.Append(token) is { } reason) s.Finish(seq, reason);
        }
        return list;
    }

    [Fact]
    public void ChunkedPrefill_SplitsBudget_ThenMixesDecodesWithChunks()
    {
        var s = Create(200, 1024);
        var a = Make(Range(0, 800), maxTokens: 8);
        var b = Make(Range(1000, 800), maxTokens: 8);
        var c = Make(Range(2000, 800), maxTokens: 8);
        s.Add(a); s.Add(b); s.Add(c);
        var step1 = Step(s);
        Assert.Equal([(a, 800), (b, 224)], step1);
        Assert.Equal(1, a.NumOutputTokens); // a sampled; b's chunk stopped midway
        Assert.Equal(0, b.NumOutputTokens);
        var step2 = Step(s);
        Assert.Equal([(a, 1), (b, 576), (c, 447)], step2);
        var step3 = Step(s);
        Assert.Equal([(a, 1), (b, 1), (c, 353)], step3);
        Assert.Equal(0, s.NumPreemptions);
    }

    [Fact]
    public void LongPrefillThreshold_CapsOneSequencesChunk()
    {
        var s = Create(200, 1024, threshold: 256);
        var a = Make(Range(0, 800));
        s.Add(a);
        Assert.Equal([(a, 256)], Step(s));
        Assert.Equal([(a, 256)], Step(s));
    }

    [Fact]
    public void MaxNumSeqs_CapsRunning()
    {
        var s = Create(100, 4096, maxSeqs: 2);
        for (int i = 0; i < 3; i++) s.Add(Make(Range(i * 100, 20)));
        Assert.Equal(2, Step(s).Count);
        Assert.Equal(2, s.NumRunning);
        Assert.Equal(1, s.NumWaiting);
    }

    [Fact]
    public void OutOfBlocks_PreemptsNewest_LogsOption_AndResumesByRecompute()
    {
        var log = new ListLogger();
        var s = Create(4, 1024, logger: log);
        var a = Make(Range(0, 30), maxTokens: 20);  // 2 blocks, grows to 50 tokens = 4 blocks
        var b = Make(Range(100, 30), maxTokens: 20);
        s.Add(a); s.Add(b);
        Assert.Equal(2, Step(s).Count); // 2 + 2 blocks: pool full
        Assert.Equal(0, s.Kv.Pool.NumFree);
        Assert.Equal(2, Step(s).Count); // tokens 31 and 32 still fit two blocks
        Assert.Equal(2, Step(s).Count);
        var step = Step(s); // a needs a 3rd block for token 33: b (newest) is preempted
        Assert.Equal([(a, 1)], step);
        Assert.Equal(1, s.NumPreemptions);
        Assert.Equal(SequenceStatus.Waiting, b.Status);
        Assert.Equal(0, b.NumComputedTokens);
        Assert.Empty(b.Blocks);
        Assert.Equal(33, b.NumTokens); // its generated tokens are kept and recomputed on resumption
        var warn = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Warning, warn.Level);
        Assert.Contains("EngineOptions.NumKvBlocks", warn.Message);
        Assert.Contains("preempted", warn.Message);

        while (!a.IsFinished) Step(s);
        Assert.Equal(FinishReason.Length, a.FinishReason);
        var resumed = Step(s);
        Assert.Equal(b, Assert.Single(resumed).Seq);
        Assert.Equal(33, resumed[0].N + b.NumCachedTokens); // prompt + output recomputed, minus what is still cached
        while (!b.IsFinished) Step(s);
        Assert.Equal(20, b.NumOutputTokens);
        Assert.Equal(4, s.Kv.Pool.NumFree);
    }

    [Fact]
    public void ManyRequests_TinyCache_AllFinish_NoStarvation_AllBlocksFreed()
    {
        var s = Create(12, 64, maxSeqs: 8);
        var seqs = new List<TestSeq>();
        for (int i = 0; i < 30; i++)
        {
            var q = Make(Range(i * 37 % 500, 10 + i * 7 % 60), maxTokens: 5 + i % 40);
            seqs.Add(q);
            s.Add(q);
        }
        int steps = 0;
        while (s.HasWork)
        {
            Step(s);
            Assert.True(++steps < 5000, "scheduler made no progress");
        }
        Assert.All(seqs, q => Assert.Equal(FinishReason.Length, q.FinishReason));
        Assert.All(seqs, q => Assert.Equal(q.Params.MaxTokens, q.NumOutputTokens));
        Assert.Equal(12, s.Kv.Pool.NumFree);
        Assert.True(s.NumPreemptions > 0);
        // FCFS: requests finish roughly in order; the first request is never overtaken for good.
        Assert.All(Enumerable.Range(0, 12), b => Assert.Equal(0, s.Kv.Pool[b].RefCount));
    }

    [Fact]
    public void IdenticalUncachedPrefixes_ArrivingTogether_AreComputedOnce()
    {
        var s = Create(100, 4096);
        var prompt = Range(0, 70); // 4 full blocks + 6 tokens
        var seqs = Enumerable.Range(0, 5).Select(_ => Make(prompt)).ToList();
        seqs.ForEach(s.Add);
        var step1 = Step(s);
        Assert.Equal([(seqs[0], 70)], step1); // followers wait one step for the prefix
        var step2 = Step(s);
        Assert.Equal(1, step2[0].N); // leader decodes
        Assert.All(step2.Skip(1), x => Assert.Equal(70 - 64, x.N));
        Assert.All(seqs.Skip(1), q => Assert.Equal(64, q.NumCachedTokens));
        // All five share the four full blocks; each has its own partial block.
        for (int b = 0; b < 4; b++) Assert.Equal(5, seqs[0].Blocks[b].RefCount);
        Assert.Equal(5, seqs.Select(q => q.Blocks[4].Id).Distinct().Count());
        Assert.Equal(64L * 4, s.Kv.PrefixHitTokens);
        Assert.Equal(70L * 5, s.Kv.PrefixQueryTokens);
    }

    [Fact]
    public void ChunkedLeader_FollowerTrailsChunkByChunk()
    {
        var s = Create(100, 40);
        var prompt = Range(0, 100);
        var a = Make(prompt);
        var b = Make(prompt);
        s.Add(a); s.Add(b);
        Assert.Equal([(a, 40)], Step(s)); // b: block 0 pending
        Assert.Equal([(a, 40)], Step(s)); // b: blocks 0,1 cached, block 2 pending; budget spent anyway
        Assert.Equal([(a, 20)], Step(s)); // b: blocks 0-4 cached, block 5 pending (a's last chunk fills it)
        var st = Step(s);
        Assert.Equal([(a, 1), (b, 4)], st);
        Assert.Equal(96, b.NumCachedTokens);
    }

    [Fact]
    public void Finish_FromWaitingOrRunning_FreesAndIsIdempotent()
    {
        var s = Create(10, 256);
        var a = Make(Range(0, 40));
        var b = Make(Range(100, 40));
        s.Add(a);
        Step(s);
        s.Add(b);
        s.Finish(a, null);
        s.Finish(b, null);
        s.Finish(a, null);
        Assert.False(s.HasWork);
        Assert.Equal(10, s.Kv.Pool.NumFree);
        Assert.Null(a.FinishReason);
        Assert.True(a.IsFinished);
    }

    [Fact]
    public void Add_RejectsSequenceLargerThanCache()
    {
        var s = Create(4, 256);
        Assert.Throws<ArgumentException>(() => s.Add(Make(Range(0, 60), maxTokens: 10)));
    }
}
