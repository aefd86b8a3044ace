using System.Diagnostics;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;

namespace GpuCheck;

/// <summary>
/// LlmEngine with Device = "cuda" end to end: greedy tokens against the CPU engine, batch vs alone, graphs vs eager,
/// seeded sampling reproducibility (alone, twice, and inside a batch of other seeded requests), logprobs fallback;
/// and an engine-level decode benchmark.
/// </summary>
internal static class EngineChecks
{
    private static readonly SamplingParams Greedy = new() { Temperature = 0, MaxTokens = 20, IgnoreEos = true };

    private static async Task<int[]> Generate(LlmEngine e, int[] prompt, SamplingParams p)
    {
        var ids = new List<int>();
        await foreach (var o in e.GenerateAsync(prompt, p)) ids.Add(o.TokenId);
        return [.. ids];
    }

    private static int[][] All(LlmEngine e, int[][] prompts, Func<int, SamplingParams> p) =>
        Task.WhenAll(prompts.Select((x, i) => Generate(e, x, p(i)))).GetAwaiter().GetResult();

    private static int[][] OneByOne(LlmEngine e, int[][] prompts, Func<int, SamplingParams> p) =>
        prompts.Select((x, i) => Generate(e, x, p(i)).GetAwaiter().GetResult()).ToArray();

    private static LlmEngine Load(string dir, string device, bool eager = false, int maxSeqs = 16) =>
        LlmEngine.LoadAsync(new EngineOptions { ModelPath = dir, Device = device, EnforceEager = eager, MaxNumSeqs = maxSeqs, MaxNumBatchedTokens = 512, NumKvBlocks = 256, DetokenizerFactory = null })
            .GetAwaiter().GetResult();

    private static int Prefix(int[] a, int[] b) { int i = 0; while (i < a.Length && i < b.Length && a[i] == b[i]) i++; return i; }

    /// <summary>The small-batch GEMV kernel against cuBLAS (both fp32 accumulation).</summary>
    public static void CheckGemv(PagedAttention.Kernels.Cuda.CudaDevice d, Report rep)
    {
        using var kernels = new PagedAttention.Kernels.Cuda.CudaKernels(d, 64, 8, Program.Switches);
        var r = new Random(3);
        foreach (var (m, n, k) in new[] { (1, 1000, 2048), (3, 3072, 512), (4, 517, 8192) })
        {
            var (_, xb) = Rand.Bf16(r, m * k);
            var (_, wb) = Rand.Bf16(r, n * k);
            using var x = d.Allocate(xb.Length * 2L); x.Upload<ushort>(xb);
            using var w = d.Allocate(wb.Length * 2L); w.Upload<ushort>(wb);
            using var y1 = d.Allocate(m * n * 4L);
            using var y2 = d.Allocate(m * n * 4L);
            kernels.Gemv(x.Ptr, w.Ptr, y1.Ptr, m, n, k);
            d.Blas.Gemm(x.Ptr, w.Ptr, y2.Ptr, m, n, k);
            float err = Rand.RelErr(y1.ToArray<float>(), y2.ToArray<float>());
            rep.Check($"gemv m={m} n={n} k={k} vs cuBLAS", err < 1e-4f, $"rel err {err:E2}");
        }
    }

    public static void Run(string modelsDir, Report rep)
    {
        foreach (var dir in Directory.GetDirectories(modelsDir).Order())
        {
            string name = Path.GetFileName(dir);
            rep.Run($"engine {name}", () => CheckModel(dir, name, rep));
        }
    }

    private static void CheckModel(string dir, string name, Report rep)
    {
        var r = new Random(7);
        int[][] prompts, cpu;
        using (var e = Load(dir, "cpu"))
        {
            int vocab = e.Model.Config.VocabSize;
            prompts = Enumerable.Range(0, 9).Select(i => Enumerable.Range(0, 3 + 11 * i).Select(_ => r.Next(1, vocab)).ToArray()).ToArray();
            cpu = All(e, prompts, _ => Greedy);
        }
        using var g = Load(dir, "cuda");
        using var eager = Load(dir, "cuda", eager: true);
        Console.WriteLine($"engine {name}: cuda KV blocks {g.NumKvBlocks}");
        var gAll = All(g, prompts, _ => Greedy);
        var gOne = OneByOne(g, prompts, _ => Greedy);
        var eAll = All(eager, prompts, _ => Greedy);
        int same = cpu.Zip(gAll).Count(p => p.First.SequenceEqual(p.Second)), first = cpu.Zip(gAll).Count(p => p.First[0] == p.Second[0]);
        double prefix = cpu.Zip(gAll).Average(p => Prefix(p.First, p.Second));
        rep.Check($"engine {name} cuda greedy vs cpu engine", first >= prompts.Length - 1,
            $"identical {same}/{prompts.Length}, first token {first}/{prompts.Length}, mean agreeing prefix {prefix:F1}/{Greedy.MaxTokens} (fp32 CPU vs bf16 GPU)");
        rep.Check($"engine {name} cuda batch = one at a time", gAll.Zip(gOne).All(p => p.First.SequenceEqual(p.Second)),
            $"{gAll.Zip(gOne).Count(p => p.First.SequenceEqual(p.Second))}/{prompts.Length} identical");
        rep.Check($"engine {name} cuda graphs = eager", gAll.Zip(eAll).All(p => p.First.SequenceEqual(p.Second)),
            $"{gAll.Zip(eAll).Count(p => p.First.SequenceEqual(p.Second))}/{prompts.Length} identical");
        // Programmatic dependent launch changes only when kernels are scheduled, never what they compute.
        Environment.SetEnvironmentVariable("PAGEDATTENTION_PDL", "0");
        int[][] noPdl;
        try { using var np = Load(dir, "cuda"); noPdl = All(np, prompts, _ => Greedy); }
        finally { Environment.SetEnvironmentVariable("PAGEDATTENTION_PDL", null); }
        rep.Check($"engine {name} cuda programmatic launch = plain launch", gAll.Zip(noPdl).All(p => p.First.SequenceEqual(p.Second)),
            $"{gAll.Zip(noPdl).Count(p => p.First.SequenceEqual(p.Second))}/{prompts.Length} identical");

        var seeded = new SamplingParams { Temperature = 0.8f, TopK = 50, TopP = 0.9f, MinP = 0.02f, RepetitionPenalty = 1.1f, FrequencyPenalty = 0.2f, PresencePenalty = 0.1f, Seed = 1234, MaxTokens = 24, IgnoreEos = true };
        SamplingParams Other(int i) => new() { Temperature = 1f, TopP = i % 2 == 0 ? 0.95f : 1f, TopK = i % 3 == 0 ? 20 : 0, Seed = 100 + i, MaxTokens = 24, IgnoreEos = true };
        var alone1 = Generate(g, prompts[4], seeded).GetAwaiter().GetResult();
        var alone2 = Generate(g, prompts[4], seeded).GetAwaiter().GetResult();
        var mixed = All(g, prompts, i => i == 4 ? seeded : Other(i));
        var mixedEager = All(eager, prompts, i => i == 4 ? seeded : Other(i));
        var other = Generate(g, prompts[4], new SamplingParams { Temperature = 0.8f, TopK = 50, TopP = 0.9f, Seed = 99, MaxTokens = 24, IgnoreEos = true }).GetAwaiter().GetResult();
        rep.Check($"engine {name} seeded sampling reproducible", alone1.SequenceEqual(alone2) && alone1.SequenceEqual(mixed[4]) && alone1.SequenceEqual(mixedEager[4]),
            $"alone twice {alone1.SequenceEqual(alone2)}, in a batch of {prompts.Length} {alone1.SequenceEqual(mixed[4])}, eager batch {alone1.SequenceEqual(mixedEager[4])}; " +
            $"distinct tokens {alone1.Distinct().Count()}/{alone1.Length}; another seed differs: {!alone1.SequenceEqual(other)}; [{string.Join(',', alone1.Take(10))}…]");
        var n2 = Generate(g, prompts[1], new SamplingParams { Temperature = 1f, N = 2, Seed = 5, MaxTokens = 8, IgnoreEos = true }).GetAwaiter().GetResult();
        Console.WriteLine($"INFO engine {name}: n=2 seed 5 interleaved outputs [{string.Join(',', n2)}]");

        // Logprobs rows fall back to host sampling from this step's logits.
        var lp = new List<GenerationOutput>();
        foreach (var o in g.GenerateAsync(prompts[2], new SamplingParams { Temperature = 0, MaxTokens = 20, IgnoreEos = true, Logprobs = 3 }).ToBlockingEnumerable()) lp.Add(o);
        rep.Check($"engine {name} logprobs fallback", lp.Select(o => o.TokenId).SequenceEqual(gAll[2]) && lp.All(o => o.TopLogprobs is { Length: 3 } && !float.IsNaN(o.Logprob)),
            $"greedy with logprobs = greedy on GPU: {lp.Select(o => o.TokenId).SequenceEqual(gAll[2])}; first logprob {lp[0].Logprob:F3}");

        // In a batch, only the logprob rows' logits come to the host (rows 2, 5, 8: not a prefix of the batch); the other
        // rows keep their GPU-sampled tokens. Logprobs of prompt 2 match those it got alone, up to the bf16 GEMM
        // differences between batch sizes.
        async Task<List<GenerationOutput>> Collect(int[] prompt, SamplingParams p)
        {
            var list = new List<GenerationOutput>();
            await foreach (var o in g.GenerateAsync(prompt, p)) list.Add(o);
            return list;
        }
        var mixedLp = Task.WhenAll(prompts.Select((p, i) => Collect(p, new SamplingParams { Temperature = 0, MaxTokens = Greedy.MaxTokens, IgnoreEos = true, Logprobs = i % 3 == 2 ? 3 : 0 })))
            .GetAwaiter().GetResult();
        bool tokensSame = mixedLp.Select(l => l.Select(o => o.TokenId).ToArray()).Zip(gAll).All(p => p.First.SequenceEqual(p.Second));
        bool shapes = mixedLp.Select((l, i) => i % 3 == 2
            ? l.All(o => o.TopLogprobs is { Length: 3 } t && t[0].TokenId == o.TokenId && float.IsFinite(o.Logprob) && o.Logprob <= 0)
            : l.All(o => o.TopLogprobs is null)).All(x => x);
        double maxDiff = lp.Zip(mixedLp[2]).Max(p => Math.Abs(p.First.Logprob - p.Second.Logprob));
        rep.Check($"engine {name} logprobs rows in a batch", tokensSame && shapes && maxDiff < 0.05,
            $"tokens = greedy batch: {tokensSame}; logprob rows well formed, others without: {shapes}; prompt 2 logprobs vs alone max |diff| {maxDiff:E2}");
    }

    /// <summary>Decode tok/s through the whole engine (scheduler, GPU sampler, graphs or eager) for B concurrent greedy requests.</summary>
    public static void Bench(string dir, int[] batches, int prompt, int steps, Report rep)
    {
        try
        {
            using var tooSmall = LlmEngine.LoadAsync(new EngineOptions { ModelPath = dir, Device = "cuda", GpuMemoryUtilization = 0.02 }).GetAwaiter().GetResult();
            rep.Check("engine kv sizing: a model that does not fit fails", false, "loaded with GpuMemoryUtilization 0.02");
        }
        catch (ArgumentException ex) { rep.Check("engine kv sizing: a model that does not fit fails", true, ex.Message); }
        foreach (bool eager in new[] { false, true })
        {
            var sw = Stopwatch.StartNew();
            using var e = LlmEngine.LoadAsync(new EngineOptions { ModelPath = dir, Device = "cuda", EnforceEager = eager, MaxNumSeqs = batches.Max(), MaxModelLen = 4096, DetokenizerFactory = null })
                .GetAwaiter().GetResult();
            Console.WriteLine($"engine-bench: loaded in {sw.Elapsed.TotalSeconds:F1} s, KV blocks {e.NumKvBlocks} ({(eager ? "eager" : "CUDA graphs")})");
            foreach (int b in batches)
            {
                var r = new Random(b);
                var prompts = Enumerable.Range(0, b).Select(_ => Enumerable.Range(0, prompt).Select(_ => r.Next(1, 100000)).ToArray()).ToArray();
                var p = new SamplingParams { Temperature = 0, MaxTokens = steps, IgnoreEos = true };
                var sp = new SamplingParams { Temperature = 0.8f, TopP = 0.9f, TopK = 50, Seed = 1, MaxTokens = steps, IgnoreEos = true };
                foreach (var (label, sparams) in new[] { ("greedy", p), ("top-p/top-k", sp) })
                {
                    All(e, prompts.Take(1).ToArray(), _ => new SamplingParams { Temperature = 0, MaxTokens = 8, IgnoreEos = true }); // warm-up
                    long firstTick = 0;
                    var tasks = prompts.Select(async x =>
                    {
                        int n = 0;
                        await foreach (var o in e.GenerateAsync(x, sparams)) { if (n++ == 0) Interlocked.CompareExchange(ref firstTick, Stopwatch.GetTimestamp(), 0); }
                        return n;
                    }).ToArray();
                    Task.WaitAll(tasks);
                    double sec = (Stopwatch.GetTimestamp() - firstTick) / (double)Stopwatch.Frequency;
                    Console.WriteLine($"RESULT engine {(eager ? "eager" : "graphs")} {label} batch={b} prompt={prompt} tokens={steps}: {b * (steps - 1) / sec:F0} tok/s decode ({sec * 1e3 / (steps - 1):F3} ms/step after the first token)");
                }
            }
        }
        rep.Check("engine-bench", true, "ran");
    }
}
