// CPU engine benchmark (issue 4):
//  (a) throughput: 256 requests with ShareGPT-like input/output lengths (seeded log-normal, means 161/338 scaled
//      by --scale for this CPU), all submitted at once with eos ignored, vs. the same requests served one at a time
//      through the same engine (the first --solo of them; throughput is tokens/s, so a prefix of the list suffices).
//  (b) shared prefix: 64 requests = one 1,024-token prefix + a distinct 32-token suffix, 64 output tokens each,
//      prefix caching on vs. off: prefill tokens computed, prefix tokens served from the cache, TTFT mean/p50/p99, total.
// The model is a random bf16 Llama-shaped checkpoint written to a temp dir (bench/CpuBench's writer).
// Usage: dotnet run -c Release --project bench/EngineBench -- [--sections a,b] [--scale 0.25] [--solo 16]
//        [--requests 256] [--max-seqs 256] [--hidden 512] [--layers 6] [--vocab 16384] [--model DIR]
using System.Diagnostics;
using CpuBench;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;

var opt = ParseArgs(args);
string sections = opt.GetValueOrDefault("sections", "a,b");
double scale = double.Parse(opt.GetValueOrDefault("scale", "0.25"), System.Globalization.CultureInfo.InvariantCulture);
int solo = int.Parse(opt.GetValueOrDefault("solo", "16"));
int requests = int.Parse(opt.GetValueOrDefault("requests", "256"));
int maxSeqs = int.Parse(opt.GetValueOrDefault("max-seqs", "256"));
int budget = int.Parse(opt.GetValueOrDefault("budget", "2048"));
int hidden = int.Parse(opt.GetValueOrDefault("hidden", "512"));
int layers = int.Parse(opt.GetValueOrDefault("layers", "6"));
int vocab = int.Parse(opt.GetValueOrDefault("vocab", "16384"));
var shape = new LlamaShape(hidden, hidden * 3, layers, hidden / 64, Math.Max(1, hidden / 128), vocab);

string? tempDir = null;
string model = opt.GetValueOrDefault("model", "");
if (model.Length == 0)
{
    tempDir = Path.Combine(Path.GetTempPath(), "engine-bench-" + Environment.ProcessId);
    CheckpointWriter.Write(tempDir, shape);
    model = tempDir;
}
Console.WriteLine($"model: {(tempDir is null ? model : "random bf16 Llama, " + shape)}");
Console.WriteLine($"cores: {Environment.ProcessorCount}, .NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z");
try
{
    if (sections.Contains('a')) await Throughput();
    if (sections.Contains('b')) await SharedPrefix();
}
finally
{
    if (tempDir is not null) Directory.Delete(tempDir, recursive: true);
}

async Task Throughput()
{
    var rnd = new Random(1234);
    // ShareGPT-like: log-normal lengths (sigma 1.0 for inputs, 0.8 for outputs) with means 161 and 338, scaled.
    int[] inLens = Enumerable.Range(0, requests).Select(_ => LogNormal(rnd, 161 * scale, 1.0, 4, (int)(1024 * scale))).ToArray();
    int[] outLens = Enumerable.Range(0, requests).Select(_ => LogNormal(rnd, 338 * scale, 0.8, 4, (int)(1024 * scale))).ToArray();
    var prompts = inLens.Select(n => Enumerable.Range(0, n).Select(_ => rnd.Next(3, vocab)).ToArray()).ToArray();
    Console.WriteLine();
    Console.WriteLine($"(a) {requests} requests, scale {scale}: input mean {inLens.Average():F1} (p50 {Pct(inLens, 50)}, max {inLens.Max()}), output mean {outLens.Average():F1} (p50 {Pct(outLens, 50)}, max {outLens.Max()}); total {inLens.Sum()} + {outLens.Sum()} tokens");
    int blocks = prompts.Select((p, i) => (p.Length + outLens[i] + 15) / 16).Sum() + 16;
    await using var e = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = model, NumKvBlocks = blocks, MaxNumSeqs = maxSeqs, MaxNumBatchedTokens = budget, EnablePrefixCaching = false });
    await Warm(e);

    // One at a time: the first `solo` requests, each waiting for the previous one.
    var sw = Stopwatch.StartNew();
    long soloTokens = 0;
    for (int i = 0; i < Math.Min(solo, requests); i++) soloTokens += (await RunOne(e, prompts[i], outLens[i], sw)).Tokens;
    double soloS = sw.Elapsed.TotalSeconds;
    var m0 = e.GetMetrics();

    // All at once.
    sw.Restart();
    var runs = await Task.WhenAll(Enumerable.Range(0, requests).Select(i => RunOne(e, prompts[i], outLens[i], sw)));
    double allS = sw.Elapsed.TotalSeconds;
    var m1 = e.GetMetrics();
    long allTokens = runs.Sum(r => r.Tokens);
    long steps = m1.Steps - m0.Steps;
    Console.WriteLine("| mode | requests | output tokens | wall s | output tok/s | total (in+out) tok/s | steps | mean tokens/step | preemptions |");
    Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    long soloIn = prompts.Take(solo).Sum(p => (long)p.Length);
    Console.WriteLine($"| one at a time | {Math.Min(solo, requests)} | {soloTokens} | {soloS:F2} | {soloTokens / soloS:F1} | {(soloTokens + soloIn) / soloS:F1} | {m0.Steps} | {(double)m0.ComputedTokens / Math.Max(1, m0.Steps):F1} | {m0.Preemptions} |");
    Console.WriteLine($"| all at once (MaxNumSeqs {maxSeqs}) | {requests} | {allTokens} | {allS:F2} | {allTokens / allS:F1} | {(allTokens + inLens.Sum()) / allS:F1} | {steps} | {(double)(m1.ComputedTokens - m0.ComputedTokens) / steps:F1} | {m1.Preemptions - m0.Preemptions} |");
    Console.WriteLine($"batched / one-at-a-time output throughput: {allTokens / allS / (soloTokens / soloS):F2}x; TTFT all-at-once mean {runs.Average(r => r.TtftMs):F0} ms");
}

async Task SharedPrefix()
{
    var rnd = new Random(99);
    var prefix = Enumerable.Range(0, 1024).Select(_ => rnd.Next(3, vocab)).ToArray();
    var prompts = Enumerable.Range(0, 64).Select(_ => prefix.Concat(Enumerable.Range(0, 32).Select(_ => rnd.Next(3, vocab))).ToArray()).ToArray();
    Console.WriteLine();
    Console.WriteLine("(b) 64 requests: 1,024-token shared prefix + 32 distinct tokens, 64 output tokens each, all submitted at once");
    Console.WriteLine("| prefix cache | prefill tokens computed | prefix tokens from cache | % of shared prefix from cache | TTFT mean ms | TTFT p50 ms | TTFT p99 ms | total s |");
    Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    foreach (bool on in new[] { true, false })
    {
        await using var e = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = model, NumKvBlocks = 64 * (1056 + 64) / 16 + 64, MaxNumSeqs = 64, MaxNumBatchedTokens = budget, EnablePrefixCaching = on });
        await Warm(e);
        var m0 = e.GetMetrics();
        var sw = Stopwatch.StartNew();
        var runs = await Task.WhenAll(prompts.Select(p => RunOne(e, p, 64, sw)));
        double s = sw.Elapsed.TotalSeconds;
        var m = e.GetMetrics();
        long generated = m.GeneratedTokens - m0.GeneratedTokens;
        // Every generated token but each sequence's last is fed back once; the rest of the computed tokens is prefill.
        long prefill = m.ComputedTokens - m0.ComputedTokens - (generated - prompts.Length);
        long hits = m.PrefixHitTokens - m0.PrefixHitTokens;
        var ttft = runs.Select(r => r.TtftMs).Order().ToArray();
        Console.WriteLine($"| {(on ? "on" : "off")} | {prefill} | {hits} | {100.0 * hits / (64 * 1024):F1}% | {ttft.Average():F0} | {Pct(ttft, 50):F0} | {Pct(ttft, 99):F0} | {s:F2} |");
    }
}

static async Task Warm(LlmEngine e)
{
    // JIT tiering, scratch buffers, page-in of the mapped weights; a distinct token range so nothing is cached.
    var p = new SamplingParams { Temperature = 0, MaxTokens = 8, IgnoreEos = true };
    await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
    {
        await foreach (var _ in e.GenerateAsync(Enumerable.Range(0, 40).Select(j => 3 + (i * 41 + j) % 997).ToArray(), p)) { }
    }));
}

static async Task<(long Tokens, double TtftMs)> RunOne(LlmEngine e, int[] prompt, int maxTokens, Stopwatch sw)
{
    double start = sw.Elapsed.TotalMilliseconds, ttft = 0;
    long n = 0;
    await foreach (var _ in e.GenerateAsync(prompt, new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true }).ConfigureAwait(false))
        if (n++ == 0) ttft = sw.Elapsed.TotalMilliseconds - start;
    return (n, ttft);
}

static int LogNormal(Random rnd, double mean, double sigma, int min, int max)
{
    double mu = Math.Log(mean) - sigma * sigma / 2; // so that E[X] = mean
    double z = Math.Sqrt(-2 * Math.Log(1 - rnd.NextDouble())) * Math.Cos(2 * Math.PI * rnd.NextDouble());
    return (int)Math.Clamp(Math.Round(Math.Exp(mu + sigma * z)), min, max);
}

static T Pct<T>(T[] values, int p)
{
    var sorted = values.Order().ToArray();
    return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100.0 * sorted.Length) - 1)];
}

static Dictionary<string, string> ParseArgs(string[] a)
{
    var d = new Dictionary<string, string>();
    for (int i = 0; i + 1 < a.Length; i += 2) d[a[i].TrimStart('-')] = a[i + 1];
    return d;
}
