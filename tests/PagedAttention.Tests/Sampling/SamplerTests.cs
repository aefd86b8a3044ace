using PagedAttention.AI.Sampling;

namespace PagedAttention.Tests.Sampling;

public class SamplerTests
{
    private static readonly int[] Eos = [3];

    // The host sampler reads the flat row and the end tokens the engine derives from the parameters (StopChecker).
    private static int Sample(Sampler s, Span<float> logits, SamplingParams p, ReadOnlySpan<int> prompt, ReadOnlySpan<int> output,
        ref SamplingRng rng, Span<TokenLogprob> top, out float logprob) =>
        s.Sample(logits, SamplingRow.From(p), prompt, output, new StopChecker(p, Eos, int.MaxValue, null).EndTokenIds, ref rng, top, out logprob);

    private static float[] LogProbs(params double[] p) => p.Select(x => (float)Math.Log(x)).ToArray();

    private static int Draw(Sampler s, float[] logits, SamplingParams p, ref SamplingRng rng, int[]? output = null) =>
        Sample(s, (float[])logits.Clone(), p, [], output ?? [], ref rng, default, out _);

    private static double[] Histogram(float[] logits, SamplingParams p, int draws = 40000, long seed = 1)
    {
        var s = new Sampler(logits.Length);
        var rng = new SamplingRng(seed);
        var counts = new double[logits.Length];
        var row = new float[logits.Length];
        for (int i = 0; i < draws; i++)
        {
            logits.CopyTo(row, 0);
            counts[Sample(s, row, p, [], [], ref rng, default, out _)]++;
        }
        return counts.Select(c => c / draws).ToArray();
    }

    [Fact]
    public void Greedy_IsArgmax()
    {
        var s = new Sampler(4);
        var rng = new SamplingRng(0);
        Assert.Equal(2, Draw(s, [0.1f, 0.5f, 0.9f, 0.2f], new SamplingParams { Temperature = 0 }, ref rng));
    }

    [Fact]
    public void Temperature1_MatchesSoftmax()
    {
        var h = Histogram(LogProbs(0.5, 0.3, 0.2, 1e-9), new SamplingParams { Temperature = 1 });
        Assert.Equal(0.5, h[0], 0.015);
        Assert.Equal(0.3, h[1], 0.015);
        Assert.Equal(0.2, h[2], 0.015);
    }

    [Fact]
    public void Temperature_SharpensAndFlattens()
    {
        // p^(1/T) renormalized: T = 0.5 squares the probabilities.
        var h = Histogram(LogProbs(0.6, 0.4, 1e-9, 1e-9), new SamplingParams { Temperature = 0.5f });
        Assert.Equal(0.36 / 0.52, h[0], 0.015);
    }

    [Fact]
    public void TopK_TopP_MinP_CutTheTail()
    {
        var logits = LogProbs(0.5, 0.3, 0.15, 0.05);
        var k = Histogram(logits, new SamplingParams { TopK = 2 });
        Assert.Equal(0.625, k[0], 0.015);
        Assert.Equal(0, k[2] + k[3]);
        var p = Histogram(logits, new SamplingParams { TopP = 0.6f }); // 0.5 < 0.6, 0.5 + 0.3 >= 0.6
        Assert.Equal(0.625, p[0], 0.015);
        Assert.Equal(0, p[2] + p[3]);
        var p2 = Histogram(logits, new SamplingParams { TopP = 0.9f });
        Assert.Equal(0.15 / 0.95, p2[2], 0.015);
        Assert.Equal(0, p2[3]);
        var m = Histogram(logits, new SamplingParams { MinP = 0.25f }); // keep p >= 0.125
        Assert.Equal(0.15 / 0.95, m[2], 0.015);
        Assert.Equal(0, m[3]);
    }

    // The exact distribution of temperature + min-p + top-p over a whole row: weights exp((x - max) / T), those below
    // MinP dropped, then the smallest set of heaviest weights holding TopP of the mass (a tie group at the edge kept whole).
    private static double[] NucleusReference(float[] x, float t, float minP, float topP)
    {
        double max = x.Max();
        var w = x.Select(v => float.IsNegativeInfinity(v) ? 0 : Math.Exp((v - max) / t)).Select(e => e >= minP ? e : 0).ToArray();
        double target = topP * w.Sum(), acc = 0;
        var keep = new bool[x.Length];
        foreach (var g in Enumerable.Range(0, x.Length).Where(i => w[i] > 0).GroupBy(i => w[i]).OrderByDescending(g => g.Key))
        {
            if (acc >= target && topP < 1) break;
            foreach (int i in g) { keep[i] = true; acc += w[i]; }
        }
        double kept = Enumerable.Range(0, x.Length).Where(i => keep[i]).Sum(i => w[i]);
        return Enumerable.Range(0, x.Length).Select(i => keep[i] ? w[i] / kept : 0).ToArray();
    }

    [Theory]
    [InlineData(1f, 0f, 1f)]
    [InlineData(0.7f, 0f, 0.8f)]
    [InlineData(1.3f, 0.02f, 0.9f)]
    [InlineData(1f, 0.1f, 1f)]
    public void WholeVocabularySampling_MatchesTheExactDistribution(float t, float minP, float topP)
    {
        // 203 tokens (vector blocks and a scalar tail), some ties, a few -inf; weights 1 % apart, so the histogram bin where
        // top-p's edge falls holds several distinct weights and only the exact cut inside it is right.
        var rnd = new Random(21);
        var x = Enumerable.Range(0, 203).Select(i => i % 50 == 7 ? float.NegativeInfinity : (float)Math.Round(rnd.NextDouble() * 6 - 3, 2)).ToArray();
        var want = NucleusReference(x, t, minP, topP);
        var got = Histogram(x, new SamplingParams { Temperature = t, MinP = minP, TopP = topP }, draws: 200_000, seed: 3);
        for (int i = 0; i < x.Length; i++)
        {
            if (want[i] == 0) Assert.True(got[i] == 0, $"token {i} is outside the kept set but was drawn ({got[i]})");
            else Assert.True(Math.Abs(got[i] - want[i]) < 0.004 + 0.1 * want[i], $"token {i}: {got[i]:F4} vs {want[i]:F4}");
        }
    }

    [Fact]
    public void Penalties_AreAppliedExactly()
    {
        var s = new Sampler(4);
        var rng = new SamplingRng(0);
        float[] logits = [2.0f, 1.9f, 0f, -1f];
        int[] twice = [0, 0];
        Assert.Equal(0, Draw(s, logits, new SamplingParams { Temperature = 0 }, ref rng, twice));
        Assert.Equal(1, Draw(s, logits, new SamplingParams { Temperature = 0, FrequencyPenalty = 0.1f }, ref rng, twice)); // 2.0 - 0.2 < 1.9
        Assert.Equal(0, Draw(s, logits, new SamplingParams { Temperature = 0, PresencePenalty = 0.05f }, ref rng, twice)); // 1.95 > 1.9
        Assert.Equal(1, Draw(s, logits, new SamplingParams { Temperature = 0, PresencePenalty = 0.2f }, ref rng, twice));

        var row = (float[])logits.Clone();
        Sample(s, row, new SamplingParams { Temperature = 0, RepetitionPenalty = 2f }, [0, 3], [3], ref rng, default, out _);
        Assert.Equal([1.0f, 1.9f, 0f, -2f], row); // positive divided, negative multiplied, each token once
        row = (float[])logits.Clone();
        Sample(s, row, new SamplingParams { Temperature = 0, FrequencyPenalty = 0.5f, PresencePenalty = 0.25f }, [1], [2, 2, 2, 0], ref rng, default, out _);
        Assert.Equal([1.25f, 1.9f, -1.75f, -1f], row); // prompt tokens untouched by additive penalties
    }

    [Fact]
    public void MinTokens_MasksEosAndStopIds_UnlessReached()
    {
        var s = new Sampler(5);
        var rng = new SamplingRng(0);
        float[] logits = [0, 0, 0, 9, 8];
        var p = new SamplingParams { Temperature = 0, MinTokens = 2, StopTokenIds = [4] };
        Assert.Equal(0, Draw(s, logits, p, ref rng, [1]));
        Assert.Equal(3, Draw(s, logits, p, ref rng, [1, 1]));
        // IgnoreEos: eos is an ordinary token, but stop id 4 is still masked before MinTokens.
        Assert.Equal(3, Draw(s, logits, new SamplingParams { Temperature = 0, MinTokens = 2, IgnoreEos = true, StopTokenIds = [4] }, ref rng, [1]));
        Assert.Equal(4, Draw(s, [0, 0, 0, 1, 8], new SamplingParams { Temperature = 0, MinTokens = 2, IgnoreEos = true, StopTokenIds = [4] }, ref rng, [1, 1]));
    }

    [Fact]
    public void SameSeed_SameStream_DifferentSeedsDiffer()
    {
        var logits = LogProbs(0.25, 0.25, 0.25, 0.25);
        var s = new Sampler(4);
        int[] Run(long seed, int stream)
        {
            var rng = new SamplingRng(seed, stream);
            return Enumerable.Range(0, 64).Select(_ => Draw(s, logits, new SamplingParams(), ref rng)).ToArray();
        }
        Assert.Equal(Run(42, 0), Run(42, 0));
        Assert.NotEqual(Run(42, 0), Run(43, 0));
        Assert.NotEqual(Run(42, 0), Run(42, 1));
    }

    [Fact]
    public void Logprobs_AreRawTopKAndChosen()
    {
        var s = new Sampler(4);
        var rng = new SamplingRng(0);
        var logits = LogProbs(0.1, 0.6, 0.1, 0.2);
        var top = new TokenLogprob[2];
        int t = Sample(s, (float[])logits.Clone(), new SamplingParams { Temperature = 0, RepetitionPenalty = 4f }, [1], [], ref rng, top, out float lp);
        Assert.Equal(1, top[0].TokenId);
        Assert.Equal(Math.Log(0.6), top[0].Logprob, 4);
        Assert.Equal(3, top[1].TokenId);
        Assert.Equal(Math.Log(0.2), top[1].Logprob, 4);
        Assert.Equal(3, t); // the penalty moved the choice, logprobs stay raw
        Assert.Equal(Math.Log(0.2), lp, 4);
    }

    [Fact]
    public void NucleusCut_MatchesSortReference()
    {
        var rnd = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int n = rnd.Next(1, 300);
            var prob = Enumerable.Range(0, n).Select(_ => (float)Math.Round(rnd.NextDouble(), 2)).ToArray();
            double total = prob.Sum(x => (double)x);
            double target = rnd.NextDouble() * total;
            var idx = Enumerable.Range(0, n).ToArray();
            int cut = Sampler.NucleusCut(idx, prob, target);
            var kept = idx.Take(cut).Select(i => prob[i]).ToArray();
            double keptMass = kept.Sum(x => (double)x);
            Assert.True(keptMass >= target - 1e-6, $"mass {keptMass} < {target}");
            float minKept = kept.Min();
            Assert.All(idx.Skip(cut), i => Assert.True(prob[i] <= minKept));
            // Minimal up to ties: without the smallest kept value's whole tie group the mass would be short.
            double withoutTies = kept.Where(x => x > minKept).Sum(x => (double)x);
            Assert.True(withoutTies < target + 1e-6);
        }
    }

    [Fact]
    public void SelectTop_PutsLargestFirst()
    {
        var rnd = new Random(3);
        for (int trial = 0; trial < 100; trial++)
        {
            int n = rnd.Next(2, 500), k = rnd.Next(1, n);
            var key = Enumerable.Range(0, n).Select(_ => (float)rnd.Next(50)).ToArray();
            var idx = Enumerable.Range(0, n).ToArray();
            Sampler.SelectTop(idx, key, k);
            float minTop = idx.Take(k).Min(i => key[i]);
            Assert.All(idx.Skip(k), i => Assert.True(key[i] <= minTop));
        }
    }

    // Best first, ties by the lower id: the order the streaming top-k and the logprobs promise.
    private static int[] SortReference(float[] key, int k) =>
        Enumerable.Range(0, key.Length).OrderByDescending(i => key[i]).ThenBy(i => i).Take(k).ToArray();

    [Fact]
    public void StreamingTopK_MatchesSortReference_WithTies()
    {
        var rnd = new Random(11);
        for (int trial = 0; trial < 300; trial++)
        {
            int n = rnd.Next(1, 600), k = rnd.Next(1, Math.Min(n, Sampler.StreamingTopKMax) + 1);
            // Few distinct values (many ties), sometimes -inf, sometimes a rising sequence (an insertion at every key).
            var key = trial % 3 == 2
                ? Enumerable.Range(0, n).Select(i => (float)i).ToArray()
                : Enumerable.Range(0, n).Select(_ => rnd.Next(20) == 0 ? float.NegativeInfinity : (float)rnd.Next(trial % 2 == 0 ? 8 : 1000)).ToArray();
            var top = new int[k];
            Sampler.StreamingTopK(key, top);
            Assert.Equal(SortReference(key, k), top);
        }
    }

    [Theory]
    [InlineData(5)]
    [InlineData(Sampler.StreamingTopKMax)]
    public void Logprobs_AreTheTopKInOrder_OnALargeVocabulary(int k)
    {
        const int vocab = 128_256;
        var rnd = new Random(k);
        var logits = Enumerable.Range(0, vocab).Select(_ => (float)Math.Round(rnd.NextDouble() * 16 - 8, 1)).ToArray(); // ties
        var s = new Sampler(vocab);
        var rng = new SamplingRng(0);
        var top = new TokenLogprob[k];
        int t = Sample(s, (float[])logits.Clone(), new SamplingParams { Temperature = 0 }, [], [], ref rng, top, out float lp);
        double max = logits.Max(), logZ = max + Math.Log(logits.Sum(x => Math.Exp(x - max)));
        Assert.Equal(SortReference(logits, k), top.Select(x => x.TokenId));
        for (int i = 0; i < k; i++) Assert.Equal(logits[top[i].TokenId] - logZ, top[i].Logprob, 4);
        Assert.Equal(top[0].TokenId, t);
        Assert.Equal(logits[t] - logZ, lp, 4);
    }

    [Fact]
    public void MoreLogprobsThanTheLimit_AreRejected()
    {
        var s = new Sampler(128);
        var rng = new SamplingRng(0);
        var ex = Assert.Throws<ArgumentException>(() => Sample(s, new float[128], new SamplingParams(), [], [], ref rng, new TokenLogprob[Sampler.StreamingTopKMax + 1], out _));
        Assert.Contains("At most 64", ex.Message);
    }

    [Fact]
    public void LogSumExp_MatchesDoubleReference()
    {
        var rnd = new Random(2);
        foreach (int n in new[] { 1, 7, 8, 9, 1023, 1024, 1031, 128_256 })
        {
            var x = Enumerable.Range(0, n).Select(_ => (float)(rnd.NextDouble() * 60 - 50)).ToArray();
            if (n > 10) x[3] = float.NegativeInfinity;
            double max = x.Max(), want = max + Math.Log(x.Sum(v => Math.Exp(v - max)));
            float got = Sampler.LogSumExp(x);
            Assert.True(Math.Abs(got - want) <= 1e-6 * Math.Max(1, Math.Abs(want)), $"n {n}: {got} vs {want}");
        }
        Assert.True(float.IsNaN(Sampler.LogSumExp([1f, float.NaN, 2f])));
        Assert.Equal(float.NegativeInfinity, Sampler.LogSumExp([float.NegativeInfinity, float.NegativeInfinity]));
    }

    [Fact]
    public void ExpNonPositive_IsWithinTwoUlps()
    {
        var rnd = new Random(4);
        for (int i = 0; i < 20000; i++)
        {
            float x = i == 0 ? 0f : (float)(-rnd.NextDouble() * (i % 2 == 0 ? 1 : 87));
            float got = Sampler.ExpNonPositive(System.Runtime.Intrinsics.Vector256.Create(x))[0];
            double want = Math.Exp(x);
            Assert.True(Math.Abs(got - want) <= 2.5e-7 * want, $"exp({x}) = {got}, want {want}");
        }
        Assert.True(Sampler.ExpNonPositive(System.Runtime.Intrinsics.Vector256.Create(float.NegativeInfinity))[0] < 1.3e-38f);
    }

    [Fact]
    public void ArgMax_IsTheFirstLargest()
    {
        var rnd = new Random(9);
        for (int trial = 0; trial < 200; trial++)
        {
            int n = rnd.Next(1, 100);
            var x = Enumerable.Range(0, n).Select(_ => (float)rnd.Next(5)).ToArray();
            if (trial % 4 == 0) x[rnd.Next(n)] = float.NaN; // never the largest
            int want = 0;
            for (int i = 1; i < n; i++) if (x[i] > x[want]) want = i;
            Assert.Equal(want, Sampler.ArgMax(x));
        }
    }

    [Fact]
    public void Sample_AllocatesNothingPerToken()
    {
        const int V = 4096;
        var s = new Sampler(V);
        var rng = new SamplingRng(5);
        var rnd = new Random(1);
        var logits = Enumerable.Range(0, V).Select(_ => (float)rnd.NextDouble() * 8).ToArray();
        var row = new float[V];
        int[] prompt = Enumerable.Range(0, 300).ToArray();
        int[] output = Enumerable.Range(100, 50).ToArray();
        var top = new TokenLogprob[5];
        var p = new SamplingParams { Temperature = 0.8f, TopK = 50, TopP = 0.9f, MinP = 0.05f, RepetitionPenalty = 1.1f, FrequencyPenalty = 0.2f, PresencePenalty = 0.1f, StopTokenIds = [7], MinTokens = 100 };
        var p2 = new SamplingParams { Temperature = 0.7f, TopP = 0.5f };
        var row1 = SamplingRow.From(p);
        var row2 = SamplingRow.From(p2);
        int[] end1 = new StopChecker(p, Eos, int.MaxValue, null).EndTokenIds.ToArray(), end2 = new StopChecker(p2, Eos, int.MaxValue, null).EndTokenIds.ToArray();
        long Round()
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 200; i++)
            {
                logits.CopyTo(row, 0);
                if (i % 2 == 0) s.Sample(row, row1, prompt, output, end1, ref rng, top, out _);
                else s.Sample(row, row2, prompt, output, end2, ref rng, top, out _);
            }
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Round(); // warm-up: both paths
        // An allocation per call shows in every round. The runtime can charge this thread a one-off while it tiers up
        // the methods (seen once in ten loaded runs: 5,920 bytes), so a round that allocated is followed by another.
        long bytes = Round();
        for (int retry = 0; retry < 2 && bytes != 0; retry++) bytes = Round();
        Assert.Equal(0, bytes);
    }
}
