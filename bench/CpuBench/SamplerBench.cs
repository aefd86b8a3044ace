using PagedAttention.AI.Sampling;

namespace CpuBench;

/// <summary>
/// Host sampling of one row (the path of logprobs requests, and of every row on the CPU backend): microseconds per
/// <see cref="Sampler.Sample"/> call on random logits of a Llama-3 vocabulary (128,256), for greedy, greedy with top-5
/// logprobs, temperature + top-k + top-p, top-p alone, plain temperature, and top-p with logprobs.
/// </summary>
internal static class SamplerBench
{
    public sealed record Row(string Case, double Micros, double LogitsGBs);

    public static IEnumerable<Row> Run(int vocab, int reps)
    {
        var sampler = new Sampler(vocab);
        var rnd = new Random(5);
        var source = new float[vocab];
        for (int i = 0; i < vocab; i++) source[i] = (float)(rnd.NextDouble() * 8 - 4);
        var logits = new float[vocab];
        var top = new TokenLogprob[5];
        int[] prompt = [1, 2, 3], output = [4, 5];
        var cases = new (string Name, SamplingParams P, bool Logprobs)[]
        {
            ("greedy", new SamplingParams { Temperature = 0 }, false),
            ("greedy + top-5 logprobs", new SamplingParams { Temperature = 0, Logprobs = 5 }, true),
            ("T 0.8, top-k 50, top-p 0.9", new SamplingParams { Temperature = 0.8f, TopK = 50, TopP = 0.9f, Seed = 1 }, false),
            ("T 1.0, top-p 0.95 (no top-k)", new SamplingParams { Temperature = 1f, TopP = 0.95f, Seed = 1 }, false),
            ("T 1.0 (whole vocabulary)", new SamplingParams { Temperature = 1f, Seed = 1 }, false),
            ("T 0.7, top-p 0.9 + top-5 logprobs", new SamplingParams { Temperature = 0.7f, TopP = 0.9f, Seed = 1, Logprobs = 5 }, true),
        };
        foreach (var (name, p, lp) in cases)
        {
            var rng = new SamplingRng(1);
            var row = SamplingRow.From(p);
            const int inner = 20;
            double s = Timing.MedianSeconds(() =>
            {
                for (int i = 0; i < inner; i++)
                {
                    source.CopyTo(logits);
                    sampler.Sample(logits, row, prompt, output, [], ref rng, lp ? top : default, out _);
                }
            }, reps) / inner;
            yield return new Row(name, s * 1e6, vocab * 4.0 / s / 1e9);
        }
    }
}
