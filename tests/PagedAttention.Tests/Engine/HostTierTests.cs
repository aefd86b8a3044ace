using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;

using static PagedAttention.Tests.Engine.EngineTestKit;

namespace PagedAttention.Tests.Engine;

/// <summary>
/// The prefix cache's host tier (issue 21, items 2 and 6): preambles evicted from a small KV cache come back from host
/// memory, outputs identical to a roomy cache, salts respected across tiers.
/// </summary>
public class HostTierTests
{
    private static readonly string ModelDir = TestData.Model("llama");

    [Fact]
    public async Task EvictedPreambles_ComeBackFromTheHostTier_WithIdenticalOutputs()
    {
        var rnd = new Random(31);
        var preambles = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 48).Select(_ => rnd.Next(3, 384)).ToArray()).ToArray();
        var rounds = Enumerable.Range(0, 3).Select(r => preambles.Select(p => (int[])[.. p, .. Enumerable.Range(0, 1 + r).Select(_ => rnd.Next(3, 384))]).ToArray()).ToArray();

        var expected = new List<int[]>();
        await using (var roomy = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir, NumKvBlocks = 512 }))
            foreach (var round in rounds) foreach (var p in round) expected.Add(await Tokens(roomy, p, Greedy(8)));

        // 16 blocks hold about four requests: each round evicts the preambles of the one before.
        await using var e = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir, NumKvBlocks = 16, MaxNumSeqs = 4, HostCacheBytes = 1 << 20 });
        e.VerifyInvariants = true;
        var got = new List<int[]>();
        var cached = new List<int>();
        foreach (var round in rounds)
            foreach (var p in round)
            {
                var outs = await Collect(e, p, Greedy(8));
                got.Add(outs.Select(o => o.TokenId).ToArray());
                cached.Add(outs[0].CachedTokens);
            }
        for (int i = 0; i < expected.Count; i++) Assert.True(expected[i].SequenceEqual(got[i]), $"request {i} differs");
        var m = await WaitIdle(e);
        Assert.True(m.HostTierHitTokens >= 8 * 48, m.ToString());
        Assert.True(m.HostTierBlocksOut > 0 && m.HostTierBlocksIn > 0 && m.HostTierBlocks > 0, m.ToString());
        Assert.All(cached.Skip(8), c => Assert.Equal(48, c)); // rounds 2 and 3: every preamble cached (device or host)
        Assert.Equal(m.KvBlocksTotal, m.KvBlocksFree);

        // Another tenant's salt never hits this tenant's host blocks.
        var salted = await Collect(e, rounds[0][0], new SamplingParams { Temperature = 0, MaxTokens = 2, IgnoreEos = true, CacheSalt = "other" });
        Assert.Equal(0, salted[0].CachedTokens);
        Assert.Null(e.LoopFailure);
    }
}
