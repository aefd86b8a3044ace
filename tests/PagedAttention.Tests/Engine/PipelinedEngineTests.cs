using PagedAttention.AI.Engine;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;
using Xunit.Abstractions;

using static PagedAttention.Tests.Engine.EngineTestKit;

namespace PagedAttention.Tests.Engine;

/// <summary>
/// The engine's pipelined step (what it does on CUDA): step N+1 is scheduled, flattened and the outputs of step N-1
/// delivered while step N is in flight, with step N's tokens standing as placeholders. Run on the CPU through
/// <see cref="AsyncHostRunner"/>, against the plain synchronous engine as the reference.
/// </summary>
public class PipelinedEngineTests(ITestOutputHelper log)
{
    private static readonly string ModelDir = TestData.Model("llama");

    private static (LlmEngine Engine, AsyncHostRunner Runner) Pipelined(int blocks = 256, int budget = 256, int maxSeqs = 64, bool prefix = true, int blockSize = 16, Func<IStreamingDetokenizer>? detok = null)
    {
        var runner = new AsyncHostRunner(ModelDir, blocks, blockSize, maxSeqs);
        var e = LlmEngine.Create(runner, new EngineOptions
        {
            ModelPath = ModelDir, NumKvBlocks = blocks, BlockSize = blockSize, MaxNumBatchedTokens = budget, MaxNumSeqs = maxSeqs,
            EnablePrefixCaching = prefix, DetokenizerFactory = detok,
        });
        e.VerifyInvariants = true;
        return (e, runner);
    }

    [Theory]
    [InlineData(256, 256, true)]   // roomy pool, prefix cache: placeholders next to shared, registered blocks
    [InlineData(40, 48, true)]     // tight pool and budget: preemption of sequences whose token is in flight
    [InlineData(40, 48, false)]
    public async Task GreedyTokens_AreThoseOfTheSynchronousEngine(int blocks, int budget, bool prefix)
    {
        var prompts = Prompts(48);
        var expected = new int[prompts.Length][];
        await using (var sync = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir, NumKvBlocks = 256, EnablePrefixCaching = false }))
            for (int i = 0; i < prompts.Length; i++) expected[i] = await Tokens(sync, prompts[i], Greedy(24));

        var (e, runner) = Pipelined(blocks, budget, maxSeqs: 16, prefix: prefix, blockSize: 4);
        await using (e)
        {
            var got = await Task.WhenAll(prompts.Select(p => Tokens(e, p, Greedy(24))));
            for (int i = 0; i < prompts.Length; i++) Assert.True(expected[i].SequenceEqual(got[i]), $"prompt {i} differs in the pipelined engine");
            await WaitAllFree(e);
            var m = e.GetMetrics();
            Assert.True(runner.Launches > 24, $"the pipeline should have launched the steps: {runner.Launches}");
            if (blocks == 40) Assert.True(m.Preemptions > 0, $"the tight pool should preempt: {m}");
            if (prefix) Assert.True(m.PrefixHitTokens > 0, $"{m}");
            Assert.Null(e.LoopFailure);
        }
    }

    [Fact]
    public async Task EosAndMaxTokensEndSequencesWithoutExtraTokens_AndTheLastOutputCarriesTheReason()
    {
        var prompts = Prompts(16, seed: 5);
        var (e, _) = Pipelined();
        await using (e)
        {
            // Every token of a free run is an "eos" for the second pass: each request ends at exactly that token.
            var free = await Task.WhenAll(prompts.Select(p => Collect(e, p, Greedy(10))));
            long generated0 = e.GetMetrics().GeneratedTokens;
            var cut = await Task.WhenAll(prompts.Select((p, i) => Collect(e, p,
                new SamplingParams { Temperature = 0, MaxTokens = 10, StopTokenIds = [free[i][i % 10].TokenId] })));
            await WaitAllFree(e);
            int expectedTokens = 0;
            for (int i = 0; i < prompts.Length; i++)
            {
                int stopAt = free[i].FindIndex(o => o.TokenId == free[i][i % 10].TokenId);
                Assert.Equal(free[i].Take(stopAt + 1).Select(o => o.TokenId), cut[i].Select(o => o.TokenId));
                Assert.Equal(FinishReason.Stop, cut[i][^1].FinishReason);
                Assert.All(cut[i].SkipLast(1), o => Assert.Null(o.FinishReason));
                Assert.Equal(FinishReason.Length, free[i][^1].FinishReason);
                expectedTokens += stopAt + 1;
            }
            // Tokens computed for a sequence after it ended (the step already scheduled) are dropped, not counted.
            Assert.Equal(expectedTokens, e.GetMetrics().GeneratedTokens - generated0);
        }
    }

    [Fact]
    public async Task StopStrings_EndTheSequenceWithExactlyTheTokensUpToTheStop()
    {
        var (e, _) = Pipelined(detok: () => new FakeDetokenizer());
        await using (e) await AssertStopStringsCutExactly(e, [0, 4, 11]);
    }

    [Fact]
    public async Task LogprobRequests_RunTheirStepsSynchronously_NextToPipelinedOnes()
    {
        var prompts = Prompts(12, seed: 3);
        SamplingParams Params(int i) => new() { Temperature = 0, MaxTokens = 12, IgnoreEos = true, Logprobs = i % 3 == 0 ? 2 : 0 };
        var expected = new List<GenerationOutput>[prompts.Length];
        await using (var sync = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir, NumKvBlocks = 256 }))
            for (int i = 0; i < prompts.Length; i++) expected[i] = await Collect(sync, prompts[i], Params(i));
        var (e, runner) = Pipelined();
        await using (e)
        {
            var tasks = prompts.Select((p, i) => Collect(e, p, Params(i))).ToArray();
            var got = await Task.WhenAll(tasks);
            for (int i = 0; i < prompts.Length; i++)
            {
                Assert.Equal(expected[i].Select(o => o.TokenId), got[i].Select(o => o.TokenId));
                if (i % 3 != 0)
                {
                    Assert.All(got[i], o => Assert.Null(o.TopLogprobs));
                    continue;
                }
                // The host sampled these rows from the logits the runner sent back (the other rows came back as NaN).
                for (int t = 0; t < got[i].Count; t++)
                {
                    var (want, have) = (expected[i][t], got[i][t]);
                    Assert.Equal(have.TokenId, have.TopLogprobs![0].TokenId);
                    Assert.Equal(want.Logprob, have.Logprob, 1e-4f);
                    Assert.Equal(want.TopLogprobs!.Select(x => x.TokenId), have.TopLogprobs.Select(x => x.TokenId));
                    for (int k = 0; k < want.TopLogprobs!.Length; k++) Assert.Equal(want.TopLogprobs[k].Logprob, have.TopLogprobs[k].Logprob, 1e-4f);
                }
            }
            // Only the logprob requests' rows came to the host: one row per token they sampled.
            Assert.Equal(4 * 12, runner.LogitRowsCopied);
            await WaitAllFree(e);
        }
    }

    [Fact]
    public async Task CancellingWhileStepsAreInFlight_FreesEverything_AndOthersAreUnaffected()
    {
        var prompts = Prompts(24, seed: 9);
        var expected = new int[prompts.Length][];
        await using (var sync = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir, NumKvBlocks = 256, EnablePrefixCaching = false }))
            for (int i = 0; i < prompts.Length; i += 2) expected[i] = await Tokens(sync, prompts[i], Greedy(30));
        var (e, _) = Pipelined(blocks: 80, budget: 64, maxSeqs: 16, blockSize: 4);
        await using (e)
        {
            var tasks = prompts.Select(async (p, i) =>
            {
                if (i % 2 == 0) return await Tokens(e, p, Greedy(30));
                using var cts = new CancellationTokenSource();
                var got = new List<int>();
                try
                {
                    await foreach (var o in e.GenerateAsync(p, Greedy(30), cts.Token))
                        if (got.Count == i % 7) cts.Cancel(); else got.Add(o.TokenId);
                }
                catch (OperationCanceledException) { }
                return got.ToArray();
            }).ToArray();
            var results = await Task.WhenAll(tasks);
            for (int i = 0; i < prompts.Length; i += 2) Assert.Equal(expected[i], results[i]);
            await WaitAllFree(e);
            Assert.Null(e.LoopFailure);
        }
    }

    [Fact]
    public async Task AFailedStepFailsOnlyItsRequests_AndTheEngineKeepsServing()
    {
        var prompts = Prompts(6, seed: 4);
        var expected = new int[prompts.Length][];
        await using (var sync = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir, NumKvBlocks = 256 }))
            for (int i = 0; i < prompts.Length; i++) expected[i] = await Tokens(sync, prompts[i], Greedy(8));
        var (e, runner) = Pipelined();
        await using (e)
        {
            // Two requests run; the first step holding both fails. Requests arriving afterwards are served.
            runner.FailFirstStepWithSeqs = 2;
            runner.Gate.Reset(); // both requests are queued before any step runs, so a step holds both
            var first = prompts.Take(2).Select(p => Tokens(e, p, Greedy(50))).ToArray();
            runner.Gate.Set();
            foreach (var t in first)
            {
                var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => t);
                Assert.Contains("injected step failure", ex.Message);
            }
            await WaitAllFree(e);
            var later = await Task.WhenAll(prompts.Skip(2).Select(p => Tokens(e, p, Greedy(8))));
            for (int i = 2; i < prompts.Length; i++) Assert.Equal(expected[i], later[i - 2]);
            await WaitAllFree(e);
            Assert.Null(e.LoopFailure);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public async Task PipelinedDecodeSteps_AllocateNothing_AfterWarmUp(int concurrent)
    {
        // As EngineAllocationTests, through the pipelined step (greedy: the test runner itself allocates for sampled rows).
        var (e, runner) = Pipelined(maxSeqs: 16);
        await using (e)
        {
            e.VerifyInvariants = false; // the invariant check allocates
            var p = new SamplingParams { Temperature = 0, MaxTokens = 200, IgnoreEos = true };
            var rnd = new Random(1);
            int[] Prompt() => Enumerable.Range(0, 20).Select(_ => rnd.Next(3, 384)).ToArray();
            async Task Drain(int[] prompt) { await foreach (var _ in e.GenerateAsync(prompt, p)) { } }
            await Task.WhenAll(Enumerable.Range(0, concurrent).Select(_ => Drain(Prompt())));
            var rounds = await LoopAllocationsPerRound(e, async _ =>
            {
                int launches0 = runner.Launches;
                await Task.WhenAll(Enumerable.Range(0, concurrent).Select(_ => Drain(Prompt())));
                Assert.True(runner.Launches - launches0 >= 200, $"{runner.Launches - launches0} launches");
            }, line => log.WriteLine($"{concurrent} concurrent, {line}"));
            Assert.Equal(0, rounds[^1]);
        }
    }
}
