using PagedAttention.AI.Engine;
using PagedAttention.AI.KvCache;
using PagedAttention.AI.Sampling;
using PagedAttention.AI.Scheduling;
using Xunit.Abstractions;

namespace PagedAttention.Tests.Engine;

/// <summary>
/// Memory sharing measured (issue 21, item 8): KV blocks the sequences of one request hold, each step, with sharing
/// (distinct blocks) against each sequence holding its own copy (the sum of their block tables), for beam search and
/// parallel sampling of width 4 and 8 on a 512-token prompt with 128 output tokens (the default model: 2,048 positions).
/// The numbers are printed (docs/benchmarks.md quotes them); the assertions only check that sharing saves.
/// </summary>
public class MemorySharingTests(ITestOutputHelper log)
{
    private sealed class Meter
    {
        public long Steps, Shared, Unshared;
        public int PeakShared, PeakUnshared;

        public void Sample(Scheduler<EngineSequence> s)
        {
            var distinct = new HashSet<KvBlock>();
            int sum = 0;
            foreach (var seq in s.Running)
            {
                sum += seq.Table.Count;
                foreach (var b in seq.Blocks) distinct.Add(b);
            }
            if (sum == 0) return;
            Steps++;
            Shared += distinct.Count;
            Unshared += sum;
            PeakShared = Math.Max(PeakShared, distinct.Count);
            PeakUnshared = Math.Max(PeakUnshared, sum);
        }

        public string Report(string what) =>
            $"{what}: mean blocks in use {Shared / (double)Steps:F1} shared vs {Unshared / (double)Steps:F1} unshared (saving {1 - Shared / (double)Unshared:P1}); " +
            $"peak {PeakShared} vs {PeakUnshared} (saving {1 - PeakShared / (double)PeakUnshared:P1}) over {Steps} steps";

        public double MeanSaving => 1 - Shared / (double)Unshared;
    }

    [Fact]
    public async Task BeamSearchAndParallelSampling_ShareBlocks_512PromptTokens_128OutputTokens()
    {
        await using var e = await LlmEngine.LoadAsync(new EngineOptions
        {
            ModelPath = PagedAttention.Tests.Chat.ChatClientTests.DefaultModel, NumKvBlocks = 400, MaxNumSeqs = 8, MaxNumBatchedTokens = 1024,
        });
        var rnd = new Random(21);
        int vocab = e.Model.Config.VocabSize;
        foreach (int k in new[] { 4, 8 })
        {
            var prompt = Enumerable.Range(0, 512).Select(_ => rnd.Next(10, vocab)).ToArray();
            var beam = new Meter();
            e.AfterStep = beam.Sample;
            var beams = await e.BeamSearchAsync(prompt, new SamplingParams { BeamWidth = k, MaxTokens = 128, IgnoreEos = true, EarlyStopping = BeamEarlyStopping.Never });
            e.AfterStep = null;
            Assert.All(beams, b => Assert.Equal(128, b.TokenIds.Count));
            log.WriteLine(beam.Report($"beam search, width {k}"));
            Assert.True(beam.MeanSaving > 0.3, beam.Report("beam"));

            var parallel = new Meter();
            e.AfterStep = parallel.Sample;
            await foreach (var _ in e.GenerateAsync([.. prompt.Select(t => (t + 1) % vocab)], new SamplingParams { N = k, MaxTokens = 128, IgnoreEos = true, Seed = 5 })) { }
            e.AfterStep = null;
            log.WriteLine(parallel.Report($"parallel sampling, n = {k}"));
            Assert.True(parallel.MeanSaving > 0.3, parallel.Report("n"));
        }
        Assert.Null(e.LoopFailure);
    }
}
