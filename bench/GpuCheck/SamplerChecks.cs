using PagedAttention.AI.Models.Cuda;
using PagedAttention.AI.Sampling;
using PagedAttention.Kernels.Cuda;

using static GpuCheck.Buffers;

namespace GpuCheck;

/// <summary>
/// The GPU sampler's allowed-token masks (sample_rows reading a grammar bitmask per constrained row) against the host
/// sampler: greedy constrained rows pick the host's masked argmax, random constrained rows draw only allowed tokens
/// with the masked distribution's frequencies, unconstrained rows in the same batch are untouched, and a mask that
/// allows nothing yields the empty-mask id.
/// </summary>
internal static class SamplerChecks
{
    public static void Run(CudaDevice d, CudaKernels k, Report rep)
    {
        foreach (int vocab in new[] { 128256, 50001 }) // a whole last word and a partial one
            rep.Run($"masked sampling vocab={vocab}", () => Masked(d, k, rep, vocab));
    }

    private static uint[] RandomMask(Random r, int vocab, double density)
    {
        var m = new uint[Sampler.MaskWords(vocab)];
        for (int t = 0; t < vocab; t++)
            if (r.NextDouble() < density) m[t >> 5] |= 1u << (t & 31);
        return m;
    }

    private static bool Allowed(uint[] m, int t) => t >= 0 && ((m[t >> 5] >> (t & 31)) & 1) != 0;

    private static void Masked(CudaDevice d, CudaKernels k, Report rep, int vocab)
    {
        var r = new Random(vocab);
        var rows = new (SamplingRow P, double Density)[]
        {
            (new SamplingRow { Temperature = 0, TopP = 1, RepetitionPenalty = 1 }, 0.01),          // greedy, constrained
            (new SamplingRow { Temperature = 0, TopP = 1, RepetitionPenalty = 1 }, -1),            // greedy, unconstrained
            (new SamplingRow { Temperature = 1, TopK = 50, TopP = 1, RepetitionPenalty = 1 }, 0.02),
            (new SamplingRow { Temperature = 0.8f, TopP = 0.9f, RepetitionPenalty = 1 }, 0.005),
            (new SamplingRow { Temperature = 1, TopP = 1, MinP = 0.1f, RepetitionPenalty = 1 }, 0.05),
            (new SamplingRow { Temperature = 1, TopP = 1, RepetitionPenalty = 1 }, 0),             // allows nothing
            (new SamplingRow { Temperature = 1, TopP = 1, RepetitionPenalty = 1 }, 0.0002),        // a handful of tokens
        };
        int n = rows.Length;
        var logits = Rand.Floats(r, n * vocab, 4);
        var masks = rows.Select((x, i) => x.Density < 0 ? null : RandomMask(r, vocab, x.Density)).ToArray();
        using var dl = Up(d, logits);
        using var ids = d.Allocate(n * 4L);
        using var sampler = new CudaSampler(d);
        const int draws = 2000;
        var counts = new Dictionary<int, int>[n];
        for (int i = 0; i < n; i++) counts[i] = [];
        bool allAllowed = true, greedyOk = true, plainOk = true, emptyOk = true;
        string detail = "";
        var host = new Sampler(vocab);
        for (int step = 0; step < draws; step++)
        {
            sampler.Begin(n);
            for (int i = 0; i < n; i++)
            {
                sampler.SetRow(i, rows[i].P, 0x1234_5678_9ABCUL + (ulong)i, step, [], [], []);
                if (masks[i] is { } m) sampler.SetMask(i, m);
            }
            sampler.Launch(k, dl.Ptr, vocab, ids.Ptr, n);
            var got = ids.ToArray<int>();
            for (int i = 0; i < n; i++)
            {
                int t = got[i];
                counts[i][t] = counts[i].GetValueOrDefault(t) + 1;
                if (rows[i].Density == 0) { emptyOk &= t == IDeviceSampler.EmptyMaskToken; continue; }
                if (masks[i] is { } m && !Allowed(m, t)) { allAllowed = false; detail += $" row {i} drew forbidden {t};"; }
            }
            if (step > 0) continue;
            // Greedy rows against the host sampler on the same row.
            for (int i = 0; i < 2; i++)
            {
                var row = logits.AsSpan(i * vocab, vocab).ToArray();
                var rng = new SamplingRng(0);
                int want = host.Sample(row, rows[i].P, [], [], [], masks[i] ?? [], ref rng, default, out _);
                if (i == 0) greedyOk &= got[i] == want; else plainOk &= got[i] == want;
                if (got[i] != want) detail += $" greedy row {i}: gpu {got[i]} host {want};";
            }
        }
        rep.Check($"masked sampling vocab={vocab}: constrained rows draw only allowed tokens", allAllowed, $"{draws} steps x {n - 2} constrained rows;{detail}");
        rep.Check($"masked sampling vocab={vocab}: greedy constrained = host masked argmax", greedyOk, detail);
        rep.Check($"masked sampling vocab={vocab}: unconstrained row in the same batch = plain argmax", plainOk, detail);
        rep.Check($"masked sampling vocab={vocab}: a mask allowing nothing gives the empty-mask id", emptyOk, $"counts {string.Join(",", counts[5].Select(kv => $"{kv.Key}:{kv.Value}"))}");
        // The handful-of-tokens row (temperature 1, nothing else): frequencies follow softmax over the allowed tokens.
        var m6 = masks[6]!;
        var allowed = Enumerable.Range(0, vocab).Where(t => Allowed(m6, t)).ToArray();
        double z = allowed.Sum(t => Math.Exp(logits[6 * vocab + t]));
        double worst = allowed.Max(t => Math.Abs(counts[6].GetValueOrDefault(t) / (double)draws - Math.Exp(logits[6 * vocab + t]) / z));
        rep.Check($"masked sampling vocab={vocab}: draws follow the masked softmax", worst < 0.04, $"{allowed.Length} allowed tokens; max |freq - p| = {worst:F3} over {draws} draws");
    }
}
