using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;
using Xunit.Abstractions;
using static PagedAttention.Tests.Engine.EngineTestKit;

namespace PagedAttention.Tests.Engine;

/// <summary>
/// The step loop must not allocate per token: bytes allocated on the loop thread inside steps
/// (<c>GC.GetAllocatedBytesForCurrentThread</c>, summed by the engine) are measured over decode-heavy requests
/// after a warm-up. Without a detokenizer no text strings are made; with one, the text delta string of each token
/// is the (accepted) exception. Scheduling, batch building, the forward pass and sampling must allocate nothing.
/// The output channel's writes and completions are counted apart and only reported: each request's unbounded channel grows its
/// internal queue by doubling segments as the request streams (measured 3.5 KB per 200-token request, 10 KB per
/// 450-token one: a handful of allocations per request, ~20 bytes/token amortized).
/// </summary>
public class EngineAllocationTests(ITestOutputHelper log)
{
    private static int[] Prompt(int seed, int len)
    {
        var rnd = new Random(seed);
        return Enumerable.Range(0, len).Select(_ => rnd.Next(3, 384)).ToArray();
    }

    private static async Task Drain(LlmEngine e, int[] prompt, SamplingParams p)
    {
        await foreach (var _ in e.GenerateAsync(prompt, p)) { }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public async Task DecodeSteps_AllocateNothing_AfterWarmUp(int concurrent)
    {
        await using var e = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = TestData.Model("llama"), NumKvBlocks = 256, MaxNumSeqs = 16 });
        var p = new SamplingParams { Temperature = 0.8f, TopK = 40, TopP = 0.9f, Seed = 7, MaxTokens = 200, IgnoreEos = true, N = 1 };
        // Warm-up: JIT, scratch buffers, the scheduler's lists at this batch size.
        await Task.WhenAll(Enumerable.Range(0, concurrent).Select(i => Drain(e, Prompt(i, 20), p)));
        // Measured rounds of new prompts (prefix-cache misses, new block hashes, admissions) and a full decode.
        var rounds = await LoopAllocationsPerRound(e, async r =>
        {
            long tokens0 = e.GetMetrics().GeneratedTokens;
            await Task.WhenAll(Enumerable.Range(0, concurrent).Select(i => Drain(e, Prompt(100 * (r + 1) + i, 20), p)));
            Assert.Equal(concurrent * p.MaxTokens, e.GetMetrics().GeneratedTokens - tokens0);
        }, line => log.WriteLine($"{concurrent} concurrent, {line}"));
        Assert.Equal(0, rounds[^1]);
    }
}
