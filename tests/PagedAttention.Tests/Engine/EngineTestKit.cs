using PagedAttention.AI.Engine;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;

namespace PagedAttention.Tests.Engine;

/// <summary>Helpers shared by the engine tests: greedy parameters, prompts, collecting outputs, waiting for a free pool.</summary>
internal static class EngineTestKit
{
    public static SamplingParams Greedy(int max = 20) => new() { Temperature = 0, MaxTokens = max, IgnoreEos = true };

    public static async Task<List<GenerationOutput>> Collect(LlmEngine e, int[] prompt, SamplingParams p, CancellationToken ct = default)
    {
        var list = new List<GenerationOutput>();
        await foreach (var o in e.GenerateAsync(prompt, p, ct)) list.Add(o);
        return list;
    }

    public static async Task<int[]> Tokens(LlmEngine e, int[] prompt, SamplingParams p) => (await Collect(e, prompt, p)).Select(o => o.TokenId).ToArray();

    /// <summary><paramref name="count"/> prompts sharing a 40-token preamble, with distinct tails of varying length.</summary>
    public static int[][] Prompts(int count = 64, int seed = 11)
    {
        var rnd = new Random(seed);
        var preamble = Enumerable.Range(0, 40).Select(_ => rnd.Next(3, 384)).ToArray();
        return Enumerable.Range(0, count).Select(i => preamble.Concat(Enumerable.Range(0, 1 + i % 23).Select(_ => rnd.Next(3, 384))).ToArray()).ToArray();
    }

    /// <summary>Waits (up to <paramref name="maxWaits"/> × 5 ms) until the engine is idle with every block free; returns the metrics then.</summary>
    public static async Task<EngineMetrics> WaitIdle(LlmEngine e, int maxWaits = 2000)
    {
        for (int i = 0; i < maxWaits; i++)
        {
            var m = e.GetMetrics();
            if (m.KvBlocksFree == m.KvBlocksTotal && m.Running == 0 && m.Waiting == 0) return m;
            await Task.Delay(5);
        }
        return e.GetMetrics();
    }

    /// <summary>Waits until no sequence runs or waits and every KV block is free; fails after 5 s.</summary>
    public static async Task WaitAllFree(LlmEngine e)
    {
        for (int i = 0; i < 500; i++)
        {
            var m = e.GetMetrics();
            if (m.KvBlocksFree == m.KvBlocksTotal - m.KvBlocksPinned && m.Running == 0 && m.Waiting == 0) return; // pinned blocks stay held
            await Task.Delay(10);
        }
        Assert.Fail($"blocks not freed: {e.GetMetrics()}");
    }

    /// <summary>
    /// Bytes the engine's loop allocated outside its output channels over measured rounds of <paramref name="round"/>
    /// (called with the round number: new prompts each time). A per-token allocation shows in every round. The runtime
    /// can charge the loop thread a one-off now and then (seen in CI: 4,680 bytes once, early in a run whose other test
    /// classes were starting in parallel on two cores: tiering, OSR, class initialisation), so a round that allocated
    /// is followed by another, up to three; the caller asserts that the last one allocated nothing.
    /// </summary>
    public static async Task<List<long>> LoopAllocationsPerRound(LlmEngine e, Func<int, Task> round, Action<string> log)
    {
        var rounds = new List<long>();
        for (int r = 0; r < 3; r++)
        {
            long bytes0 = e.StepAllocatedBytes, channel0 = e.ChannelAllocatedBytes, steps0 = e.GetMetrics().Steps, tokens0 = e.GetMetrics().GeneratedTokens;
            await round(r);
            var m = e.GetMetrics();
            long channel = e.ChannelAllocatedBytes - channel0, bytes = e.StepAllocatedBytes - bytes0 - channel;
            long steps = m.Steps - steps0, tokens = m.GeneratedTokens - tokens0;
            log($"round {r}: {steps} steps, {tokens} tokens: engine {bytes} bytes; output channel {channel} bytes = {(double)channel / tokens:F1} bytes/token");
            rounds.Add(bytes);
            if (bytes == 0) break;
        }
        return rounds;
    }

    /// <summary>
    /// Stop strings (with <see cref="FakeDetokenizer"/>: "&lt;id&gt;" per token) found at token k of one request while seven
    /// others run: the caller gets exactly tokens 0..k with Stop on the last and the text up to the stop, the others
    /// are unaffected, the blocks all come back, and no token computed after the stop is counted.
    /// </summary>
    public static async Task AssertStopStringsCutExactly(LlmEngine e, int[] stopAt)
    {
        var prompts = Prompts(8);
        var full = await Collect(e, prompts[0], Greedy(16));
        var others = new int[prompts.Length][];
        for (int i = 1; i < prompts.Length; i++) others[i] = await Tokens(e, prompts[i], Greedy(16));
        await WaitAllFree(e);

        foreach (int k in stopAt)
        {
            string stop = $"<{full[k].TokenId}>";
            if (full.Take(k).Any(o => $"<{o.TokenId}>" == stop)) continue; // the stop must first appear at token k
            long generated0 = e.GetMetrics().GeneratedTokens;
            var stopped = Collect(e, prompts[0], new SamplingParams { Temperature = 0, MaxTokens = 16, IgnoreEos = true, StopStrings = [stop] });
            var rest = prompts.Skip(1).Select(p => Tokens(e, p, Greedy(16))).ToArray();
            var cut = await stopped;
            Assert.Equal(full.Take(k + 1).Select(o => o.TokenId), cut.Select(o => o.TokenId));
            Assert.Equal(Enumerable.Range(0, k + 1), cut.Select(o => o.Index));
            Assert.Equal(FinishReason.Stop, cut[^1].FinishReason);
            Assert.All(cut.SkipLast(1), o => Assert.Null(o.FinishReason));
            Assert.Equal(string.Concat(full.Take(k).Select(o => $"<{o.TokenId}>")), string.Concat(cut.Select(o => o.TextDelta)));
            for (int i = 1; i < prompts.Length; i++) Assert.Equal(others[i], await rest[i - 1]);
            await WaitAllFree(e);
            // The stopped sequence was not decoded further: the token of the step in flight was dropped, not kept.
            Assert.Equal(k + 1 + 7 * 16, e.GetMetrics().GeneratedTokens - generated0);
        }
        Assert.Null(e.LoopFailure);
    }

    /// <summary>Renders each token as "&lt;id&gt;", so text offsets map to tokens.</summary>
    public sealed class FakeDetokenizer : IStreamingDetokenizer
    {
        public string Append(int tokenId) => $"<{tokenId}>";
        public string Flush() => "";
    }
}
