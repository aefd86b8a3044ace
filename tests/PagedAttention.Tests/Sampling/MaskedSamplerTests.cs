using PagedAttention.AI.Sampling;

namespace PagedAttention.Tests.Sampling;

/// <summary>
/// The host sampler's allowed-token mask (what a grammar hands it): forbidden tokens are never drawn whatever the
/// sampling parameters, greedy takes the best allowed token, logprobs are those of the masked distribution, the
/// remaining probabilities keep their ratios, and a mask allowing nothing fails loudly instead of sampling garbage.
/// </summary>
public sealed class MaskedSamplerTests
{
    private static uint[] Mask(int vocab, params int[] allowed)
    {
        var m = new uint[Sampler.MaskWords(vocab)];
        foreach (int t in allowed) m[t >> 5] |= 1u << (t & 31);
        return m;
    }

    private static float[] RandomLogits(Random rnd, int vocab) => Enumerable.Range(0, vocab).Select(_ => (float)(rnd.NextDouble() * 8 - 4)).ToArray();

    private static int Sample(Sampler s, float[] logits, SamplingParams p, uint[] mask, ref SamplingRng rng, Span<TokenLogprob> top, out float logprob) =>
        s.Sample((float[])logits.Clone(), SamplingRow.From(p), [], [], [], mask, ref rng, top, out logprob);

    [Theory]
    [InlineData(0f, 0, 1f, 0f)]
    [InlineData(1f, 0, 1f, 0f)]
    [InlineData(0.7f, 5, 1f, 0f)]
    [InlineData(1.3f, 0, 0.9f, 0f)]
    [InlineData(1f, 0, 1f, 0.05f)]
    [InlineData(0.9f, 200, 0.95f, 0.01f)]
    public void ForbiddenTokensAreNeverDrawn(float temperature, int topK, float topP, float minP)
    {
        const int vocab = 1000; // not a multiple of 32: the last word is partial
        var rnd = new Random(7);
        var s = new Sampler(vocab);
        var p = new SamplingParams { Temperature = temperature, TopK = topK, TopP = topP, MinP = minP };
        var rng = new SamplingRng(3);
        for (int trial = 0; trial < 300; trial++)
        {
            var logits = RandomLogits(rnd, vocab);
            var allowed = Enumerable.Range(0, vocab).Where(_ => rnd.Next(10) == 0).Append(vocab - 1).Distinct().ToArray();
            var mask = Mask(vocab, allowed);
            int t = Sample(s, logits, p, mask, ref rng, default, out _);
            Assert.Contains(t, allowed);
            if (temperature == 0) Assert.Equal(allowed.MaxBy(a => logits[a]), t); // greedy: the best allowed token
        }
    }

    [Fact]
    public void AllowedTokensKeepTheirRelativeProbabilities()
    {
        // Four tokens allowed out of 64; with temperature 1 their draws follow softmax over the allowed logits only.
        var logits = new float[64];
        for (int i = 0; i < 64; i++) logits[i] = i % 7 * 0.5f;
        logits[10] = 9; // the unmasked favourite, forbidden below
        int[] allowed = [3, 17, 40, 63];
        var mask = Mask(64, allowed);
        var s = new Sampler(64);
        var rng = new SamplingRng(11);
        var counts = new Dictionary<int, int>();
        const int draws = 40000;
        for (int i = 0; i < draws; i++)
        {
            int t = Sample(s, logits, new SamplingParams { Temperature = 1 }, mask, ref rng, default, out _);
            counts[t] = counts.GetValueOrDefault(t) + 1;
        }
        double z = allowed.Sum(a => Math.Exp(logits[a]));
        foreach (int a in allowed)
            Assert.InRange(counts.GetValueOrDefault(a) / (double)draws, Math.Exp(logits[a]) / z - 0.015, Math.Exp(logits[a]) / z + 0.015);
        Assert.Equal(allowed.Order(), counts.Keys.Order());
    }

    [Fact]
    public void Logprobs_AreOfTheMaskedDistribution()
    {
        var rnd = new Random(5);
        var logits = RandomLogits(rnd, 300);
        int[] allowed = [1, 2, 64, 65, 299];
        var top = new TokenLogprob[8];
        var s = new Sampler(300);
        var rng = new SamplingRng(1);
        int t = Sample(s, logits, new SamplingParams { Temperature = 0, Logprobs = 8 }, Mask(300, allowed), ref rng, top, out float lp);
        double z = allowed.Sum(a => Math.Exp(logits[a]));
        Assert.Equal(Math.Log(Math.Exp(logits[t]) / z), lp, 4);
        // The top list holds the allowed tokens, best first, with masked-distribution logprobs summing to 1.
        var listed = top.Where(x => float.IsFinite(x.Logprob)).ToArray();
        Assert.Equal(allowed.OrderByDescending(a => logits[a]), listed.Select(x => x.TokenId));
        Assert.Equal(1.0, listed.Sum(x => Math.Exp(x.Logprob)), 4);
    }

    [Fact]
    public void AnAllOnesMask_SamplesExactlyAsNoMask()
    {
        var rnd = new Random(9);
        var s = new Sampler(777);
        var p = new SamplingParams { Temperature = 0.8f, TopP = 0.9f };
        var all = Enumerable.Repeat(uint.MaxValue, Sampler.MaskWords(777)).ToArray();
        for (int i = 0; i < 100; i++)
        {
            var logits = RandomLogits(rnd, 777);
            var r1 = new SamplingRng(i);
            var r2 = new SamplingRng(i);
            int masked = Sample(s, logits, p, all, ref r1, default, out _);
            int plain = s.Sample((float[])logits.Clone(), SamplingRow.From(p), [], [], [], ref r2, default, out _);
            Assert.Equal(plain, masked);
        }
    }

    [Fact]
    public void MaskAllowingNothing_OrOnlyMinusInfinity_Throws()
    {
        var s = new Sampler(100);
        var rng = new SamplingRng(0);
        var logits = new float[100];
        var e = Assert.Throws<InvalidOperationException>(() => Sample(s, logits, new SamplingParams { Temperature = 0 }, new uint[4], ref rng, default, out _));
        Assert.Contains("allowed no token", e.Message);
        // Bits past the vocabulary (tokens 100..127) allow nothing either.
        var past = new uint[4];
        past[3] = 0xFFFF_FFF0u;
        Assert.Throws<InvalidOperationException>(() => Sample(s, logits, new SamplingParams { Temperature = 1 }, past, ref rng, default, out _));
        // Allowed tokens whose logits are -inf (e.g. masked by min-tokens) leave nothing to draw.
        logits[5] = float.NegativeInfinity;
        Assert.Throws<InvalidOperationException>(() => Sample(s, logits, new SamplingParams { Temperature = 1 }, Mask(100, 5), ref rng, default, out _));
    }

    [Fact]
    public void MaskAllowingOnlyEndTokens_BeforeMinTokens_Throws()
    {
        var s = new Sampler(64);
        var rng = new SamplingRng(0);
        var p = new SamplingParams { Temperature = 0, MinTokens = 3 };
        var e = Assert.Throws<InvalidOperationException>(() =>
            s.Sample(new float[64], SamplingRow.From(p), [], [], [7], Mask(64, 7), ref rng, default, out _));
        Assert.Contains("MinTokens", e.Message);
    }

    [Fact]
    public void MaskOfTheWrongLength_IsRejected()
    {
        var s = new Sampler(100);
        var rng = new SamplingRng(0);
        Assert.Throws<ArgumentException>(() => Sample(s, new float[100], new SamplingParams(), new uint[3], ref rng, default, out _));
    }
}
