// CPU engine benchmark: batched throughput (one request at a time vs. all at once) and the prefix cache's effect
// on time-to-first-token when many requests share a long preamble.
// Usage: dotnet run -c Release --project bench/EngineBench -- [modelDir] [requests] [outputTokens]
using System.Diagnostics;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;

string model = args.Length > 0 ? args[0] : Path.Combine("tests", "PagedAttention.Tests", "Data", "models", "llama");
int requests = args.Length > 1 ? int.Parse(args[1]) : 64;
int outTokens = args.Length > 2 ? int.Parse(args[2]) : 64;

var rnd = new Random(42);
int Vocab(LlmEngine e) => e.Model.Config.VocabSize;

async Task<(double Seconds, double MeanTtftMs, long Generated, EngineMetrics Metrics)> Run(EngineOptions o, Func<int, int[][]> prompts, bool concurrent)
{
    await using var e = await LlmEngine.LoadAsync(o);
    var ps = prompts(Vocab(e));
    // Warm-up (JIT, scratch buffers) outside the timing.
    await foreach (var _ in e.GenerateAsync([1, 2, 3], new SamplingParams { Temperature = 0, MaxTokens = 4, IgnoreEos = true })) { }
    var p = new SamplingParams { Temperature = 0, MaxTokens = outTokens, IgnoreEos = true };
    var sw = Stopwatch.StartNew();
    var ttft = new double[ps.Length];
    long generated = 0;
    async Task One(int i)
    {
        double start = sw.Elapsed.TotalMilliseconds;
        bool first = true;
        await foreach (var _ in e.GenerateAsync(ps[i], p).ConfigureAwait(false))
        {
            if (first) { ttft[i] = sw.Elapsed.TotalMilliseconds - start; first = false; }
            Interlocked.Increment(ref generated);
        }
    }
    if (concurrent) await Task.WhenAll(Enumerable.Range(0, ps.Length).Select(One));
    else for (int i = 0; i < ps.Length; i++) await One(i);
    return (sw.Elapsed.TotalSeconds, ttft.Average(), generated, e.GetMetrics());
}

int[][] Random(int vocab, int count, int len) =>
    Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, len).Select(_ => rnd.Next(3, vocab)).ToArray()).ToArray();

int[][] Shared(int vocab, int count, int preamble, int tail)
{
    var pre = Enumerable.Range(0, preamble).Select(_ => rnd.Next(3, vocab)).ToArray();
    return Random(vocab, count, tail).Select(t => pre.Concat(t).ToArray()).ToArray();
}

EngineOptions Opts(bool prefix) => new() { ModelPath = model, EnablePrefixCaching = prefix, MaxNumSeqs = 64, MaxNumBatchedTokens = 2048, NumKvBlocks = 4096 };

Console.WriteLine($"model={model} requests={requests} output={outTokens} cores={Environment.ProcessorCount}");
Console.WriteLine("| scenario | wall s | output tok/s | mean TTFT ms | prefix hit rate | preemptions |");
Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: |");
void Row(string name, (double S, double Ttft, long G, EngineMetrics M) r) =>
    Console.WriteLine($"| {name} | {r.S:F2} | {r.G / r.S:F0} | {r.Ttft:F1} | {r.M.PrefixHitRate:P0} | {r.M.Preemptions} |");

Row("64-token prompts, one at a time", await Run(Opts(true), v => Random(v, requests, 64), concurrent: false));
Row("64-token prompts, all at once", await Run(Opts(true), v => Random(v, requests, 64), concurrent: true));
Row("448-token shared preamble + 16, all at once, prefix cache off", await Run(Opts(false), v => Shared(v, requests, 448, 16), concurrent: true));
Row("448-token shared preamble + 16, all at once, prefix cache on", await Run(Opts(true), v => Shared(v, requests, 448, 16), concurrent: true));
