using PagedAttention.AI.Engine;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;

using static PagedAttention.Tests.Engine.EngineTestKit;

namespace PagedAttention.Tests.Engine;

public class EngineTests
{
    private static readonly string ModelDir = TestData.Model("llama");

    private static Task<LlmEngine> Load(int? blocks = 256, bool prefix = true, int budget = 256, int maxSeqs = 64, Func<IStreamingDetokenizer>? detok = null) =>
        LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir, NumKvBlocks = blocks, EnablePrefixCaching = prefix, MaxNumBatchedTokens = budget, MaxNumSeqs = maxSeqs, DetokenizerFactory = detok });

    [Fact]
    public async Task Greedy_IsIdentical_AloneOrBatched_WithOrWithoutPrefixCache_AndUnderPreemption()
    {
        var prompts = Prompts();
        var expected = new int[prompts.Length][];
        await using (var alone = await Load(prefix: false))
            for (int i = 0; i < prompts.Length; i++) expected[i] = await Tokens(alone, prompts[i], Greedy());

        await using (var batched = await Load(prefix: true))
        {
            var got = await Task.WhenAll(prompts.Select(p => Tokens(batched, p, Greedy())));
            for (int i = 0; i < prompts.Length; i++) Assert.True(expected[i].SequenceEqual(got[i]), $"prompt {i} differs with prefix cache in a batch of 64");
            var m = batched.GetMetrics();
            Assert.True(m.PrefixHitTokens >= 63 * 32, $"expected the shared preamble to be reused: {m}");
            Assert.Equal(m.KvBlocksTotal, m.KvBlocksFree);
            Assert.True(m.GeneratedTokensPerSecond > 0);
            // The step loop's time splits into the forward call and host work around it.
            Assert.True(m.ForwardSeconds > 0 && m.ForwardSeconds <= m.BusySeconds, $"forward {m.ForwardSeconds} s of busy {m.BusySeconds} s");
        }

        await using (var tiny = await Load(blocks: 12, prefix: true, budget: 64, maxSeqs: 16))
        {
            var got = await Task.WhenAll(prompts.Select(p => Tokens(tiny, p, Greedy())));
            for (int i = 0; i < prompts.Length; i++) Assert.True(expected[i].SequenceEqual(got[i]), $"prompt {i} differs under preemption");
            var m = tiny.GetMetrics();
            Assert.True(m.Preemptions > 0, $"the tiny cache should force preemption: {m}");
            Assert.Equal(m.KvBlocksTotal, m.KvBlocksFree);
        }

        await using (var noCache = await Load(prefix: false, budget: 48))
        {
            var got = await Task.WhenAll(prompts.Select(p => Tokens(noCache, p, Greedy())));
            for (int i = 0; i < prompts.Length; i++) Assert.True(expected[i].SequenceEqual(got[i]), $"prompt {i} differs batched with chunked prefill and no prefix cache");
            Assert.Equal(0, noCache.GetMetrics().PrefixHitTokens);
        }
    }

    [Fact]
    public async Task CachedTokens_AreReported()
    {
        await using var e = await Load();
        var prompt = Prompts(1)[0];
        var first = await Collect(e, prompt, Greedy(3));
        var second = await Collect(e, prompt, Greedy(3));
        Assert.Equal(0, first[0].CachedTokens);
        Assert.Equal((prompt.Length - 1) / 16 * 16, second[0].CachedTokens);
        Assert.Equal(first.Select(o => o.TokenId), second.Select(o => o.TokenId));
        Assert.Equal(FinishReason.Length, second[^1].FinishReason);
        Assert.Equal([0, 1, 2], second.Select(o => o.Index));
    }

    [Fact]
    public async Task Cancellation_AndAbandonedEnumerator_FreeBlocks()
    {
        await using var e = await Load();
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var o in e.GenerateAsync(Prompts(1)[0], Greedy(400), cts.Token))
                if (++seen == 3) cts.Cancel();
        });
        Assert.Equal(3, seen);
        await WaitAllFree(e);

        await foreach (var o in e.GenerateAsync(Prompts(2)[1], Greedy(400)))
            if (o.Index == 1) break;
        await WaitAllFree(e);
    }

    [Fact]
    public async Task BadRequests_FailAlone_OthersComplete()
    {
        await using var e = await Load();
        var good = Prompts(8);
        var goodTasks = good.Select(p => Tokens(e, p, Greedy())).ToArray();
        var tooLong = Tokens(e, Enumerable.Repeat(5, 600).ToArray(), Greedy());
        var badId = Tokens(e, [1, 2, 384], Greedy());
        var badParams = Tokens(e, [1, 2, 3], new SamplingParams { TopP = 0 });
        var empty = Tokens(e, [], Greedy());
        var stopNeedsDetok = Tokens(e, [1, 2, 3], new SamplingParams { StopStrings = ["x"] });

        Assert.Contains("at most 511", (await Assert.ThrowsAsync<ArgumentException>(() => tooLong)).Message);
        Assert.Contains("outside the vocabulary", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => badId)).Message);
        Assert.Contains("TopP", (await Assert.ThrowsAsync<ArgumentException>(() => badParams)).Message);
        Assert.Contains("empty", (await Assert.ThrowsAsync<ArgumentException>(() => empty)).Message);
        Assert.Contains("DetokenizerFactory", (await Assert.ThrowsAsync<ArgumentException>(() => stopNeedsDetok)).Message);
        foreach (var t in goodTasks) Assert.Equal(20, (await t).Length);
        await WaitAllFree(e);

        await using var small = await Load(blocks: 8);
        var tooManyBlocks = Tokens(small, [1, 2, 3], new SamplingParams { MaxTokens = 200 }); // 13 blocks > 8
        Assert.Contains("NumKvBlocks", (await Assert.ThrowsAsync<ArgumentException>(() => tooManyBlocks)).Message);
        Assert.Equal(5, (await Tokens(small, [1, 2, 3], Greedy(5))).Length);
    }

    [Fact]
    public async Task Seeded_Sampling_IsReproducible_AloneOrInBatch_AndNSharesThePrompt()
    {
        var prompt = Prompts(1)[0];
        var p = new SamplingParams { Temperature = 1f, TopP = 0.9f, Seed = 1234, MaxTokens = 16, IgnoreEos = true, N = 4 };
        await using var e = await Load(prefix: false);
        var alone = await Collect(e, prompt, p);
        var noise = Prompts(20).Select(q => Tokens(e, q, new SamplingParams { Temperature = 0.7f, MaxTokens = 16 })).ToArray();
        var batched = await Collect(e, prompt, p);
        await Task.WhenAll(noise);

        int[] Seq(List<GenerationOutput> outs, int i) => outs.Where(o => o.SequenceIndex == i).Select(o => o.TokenId).ToArray();
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(16, Seq(alone, i).Length);
            Assert.Equal(Seq(alone, i), Seq(batched, i));
        }
        Assert.True(Enumerable.Range(1, 3).Any(i => !Seq(alone, i).SequenceEqual(Seq(alone, 0))), "n samples should differ");
        // Siblings take the prompt's full blocks from the first sequence even with the prefix cache off.
        int shared = (prompt.Length - 1) / 16 * 16;
        Assert.All(alone.Where(o => o.SequenceIndex > 0), o => Assert.Equal(shared, o.CachedTokens));
        await WaitAllFree(e);
    }

    [Fact]
    public async Task StopStrings_CutTextAcrossTokens_AndLogprobsAreReturned()
    {
        await using var e = await Load(detok: () => new FakeDetokenizer());
        var prompt = Prompts(1)[0];
        var full = await Collect(e, prompt, Greedy(12));
        string fullText = string.Concat(full.Select(o => o.TextDelta));
        Assert.Equal(string.Concat(full.Select(o => $"<{o.TokenId}>")), fullText);
        // Stop at the middle of the 5th token's text: "<12" of "<123>" spans a token boundary with the 4th.
        int k = 4;
        string stop = $"{full[k - 1].TokenId}><{full[k].TokenId}";
        var cut = await Collect(e, prompt, new SamplingParams { Temperature = 0, MaxTokens = 12, IgnoreEos = true, StopStrings = [stop], Logprobs = 3 });
        string text = string.Concat(cut.Select(o => o.TextDelta));
        Assert.Equal(fullText[..fullText.IndexOf(stop, StringComparison.Ordinal)], text);
        Assert.Equal(FinishReason.Stop, cut[^1].FinishReason);
        Assert.All(cut, o => Assert.Equal(3, o.TopLogprobs!.Length));
        Assert.All(cut, o => Assert.Equal(o.TokenId, o.TopLogprobs![0].TokenId)); // greedy picks the raw best
        Assert.All(cut, o => Assert.True(o.Logprob <= 0 && o.Logprob == o.TopLogprobs![0].Logprob));
    }

    [Fact]
    public async Task StopStrings_FoundWhileTheNextStepRuns_EndTheSequenceThereWithoutExtraTokensLeaksOrEffectOnOthers()
    {
        // Outputs are delivered (detokenized, stop strings checked) while the next step computes, so a stop string
        // ends its sequence one step late inside the engine; callers must see exactly the tokens up to the stop.
        await using var e = await Load(detok: () => new FakeDetokenizer());
        e.VerifyInvariants = true;
        await AssertStopStringsCutExactly(e, [0, 3, 9]);
    }

    [Fact]
    public async Task AStopStringOnTheLastAllowedToken_EndsWithStopAndCutText()
    {
        await using var e = await Load(detok: () => new FakeDetokenizer());
        var prompt = Prompts(1)[0];
        var full = await Collect(e, prompt, Greedy(8));
        int k = 7; // the token that also reaches MaxTokens
        string stop = $"<{full[k].TokenId}>";
        if (full.Take(k).Any(o => $"<{o.TokenId}>" == stop)) return; // must first appear at token k
        var cut = await Collect(e, prompt, new SamplingParams { Temperature = 0, MaxTokens = k + 1, IgnoreEos = true, StopStrings = [stop] });
        Assert.Equal(full.Select(o => o.TokenId), cut.Select(o => o.TokenId));
        Assert.Equal(FinishReason.Stop, cut[^1].FinishReason);
        Assert.Equal(string.Concat(full.Take(k).Select(o => $"<{o.TokenId}>")), string.Concat(cut.Select(o => o.TextDelta)));
    }

    [Fact]
    public async Task Dispose_FailsPendingRequests()
    {
        // Every step takes a permit, handed out one at a time until the second request has streamed a token: neither
        // request can finish its 400 tokens before the dispose, however slowly this test's thread runs.
        foreach (bool synchronous in new[] { true, false })
        {
            using var permits = new SemaphoreSlim(0);
            var runner = new AsyncHostRunner(ModelDir, 256, 16, 64) { Synchronous = synchronous, StepPermits = permits };
            var e = LlmEngine.Create(runner, new EngineOptions { ModelPath = ModelDir, NumKvBlocks = 256, MaxNumSeqs = 64 });
            var pending = Tokens(e, Prompts(1)[0], Greedy(400));
            var started = e.GenerateAsync(Prompts(2)[1], Greedy(400)).GetAsyncEnumerator();
            var first = started.MoveNextAsync().AsTask();
            int steps = 0;
            while (!first.IsCompleted)
            {
                permits.Release();
                steps++;
                await Task.WhenAny(first, Task.Delay(20));
            }
            Assert.True(await first);
            Assert.True(steps < 50, $"{steps} steps before the second request's first token");
            var disposing = e.DisposeAsync();
            permits.Release(1000); // the step waiting for a permit (if any) runs; the loop sees the stop and exits
            await disposing;
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => { while (await started.MoveNextAsync()) { } });
            await Assert.ThrowsAsync<ObjectDisposedException>(() => pending);
            await Assert.ThrowsAsync<ObjectDisposedException>(() => Tokens(e, [1, 2], Greedy()));
        }
    }
}
