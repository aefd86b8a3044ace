using System.Runtime.Intrinsics;
using CpuBench;
using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;

// CPU benchmark: memory bandwidth (STREAM-like), GEMV bandwidth vs. that bandwidth, and single-stream decode
// (kernel-level simulation and the real engine) vs. the roofline bandwidth / weight bytes per token.
// Usage: dotnet run -c Release --project bench/CpuBench -- [--sections stream,gemv,sim,engine] [--reps N] [--steps N] [--rounds N]
// Diagnostic sections (not in the default list): gemvx (bf16 vs f32 on a 256 MiB matrix), incache (compute rate with
// weights in L2), alias (power-of-two row stride vs padded), streams (weight read order vs 1-thread GEMV bandwidth), quant (bf16 vs Int8 vs Int4 vs FP8 GEMV and engine decode), write (--out DIR: keep the random checkpoint), sampler (host sampling of one 128k-vocabulary row). Results and their reading: docs/benchmarks.md.
var sections = Arg("--sections", "stream,gemv,sim,engine").Split(',');
int reps = int.Parse(Arg("--reps", "15"));
int steps = int.Parse(Arg("--steps", "48"));
var pool = CpuWorkerPool.Shared;
using var pool1 = new CpuWorkerPool(1);
var shape = LlamaShape.Default;

Console.WriteLine($"# CpuBench  {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z  .NET {Environment.Version}  {Environment.ProcessorCount} logical CPUs, pool {pool.ThreadCount} threads, Vector512 {Vector512.IsHardwareAccelerated}");
Console.WriteLine($"reps {reps} (medians reported)");
double readBw = double.NaN, triadBw = double.NaN;

if (sections.Contains("stream"))
{
    Console.WriteLine("\n## Memory bandwidth (3 x 256 MiB float arrays; GB/s = 1e9 B/s)\n");
    Console.WriteLine("| threads | copy GB/s | triad GB/s | read GB/s |\n| --- | --- | --- | --- |");
    foreach (var p in new[] { pool1, pool })
    {
        var r = StreamBench.Run(p, 64L << 20, reps);
        Console.WriteLine($"| {p.ThreadCount} | {r.CopyGBs:F1} | {r.TriadGBs:F1} | {r.ReadGBs:F1} |");
        if (p == pool) { readBw = r.ReadGBs; triadBw = r.TriadGBs; }
    }
}

if (sections.Contains("gemv"))
{
    Console.WriteLine("\n## GEMV / GEMM (y = x W^T, W row-major [N, K])\n");
    Console.WriteLine("| matrix | dtype | rows | threads | median ms | weight GB/s | % of read BW | % of triad | GFLOP/s |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    void Print(GemvBench.Row r) => Console.WriteLine(
        $"| {r.Name} {r.N}x{r.K} | {r.DType} | {r.Rows} | {r.Threads} | {r.Seconds * 1e3:F3} | {r.GBs:F1} | {100 * r.GBs / readBw:F0}% | {100 * r.GBs / triadBw:F0}% | {r.GFlops:F1} |");
    using (var bf = NativeBuffer.RandomWeights(DType.BF16, 4096L * 4096, 11))
    {
        Print(GemvBench.Measure("square", DType.BF16, 1, 4096, 4096, pool1, reps, bf));
        Print(GemvBench.Measure("square", DType.BF16, 1, 4096, 4096, pool, reps, bf));
        using (var f32 = GemvBench.WidenToF32(bf, 4096L * 4096))
            Print(GemvBench.Measure("square (bf16 widened to f32 at load)", DType.F32, 1, 4096, 4096, pool, reps, f32));
        foreach (int rows in new[] { 4, 16, 64 })
            Print(GemvBench.Measure("square", DType.BF16, rows, 4096, 4096, pool, Math.Max(3, reps / 3), bf));
    }
    Print(GemvBench.Measure("square", DType.F16, 1, 4096, 4096, pool, reps));
    Print(GemvBench.Measure("vocab", DType.BF16, 1, 32000, 4096, pool, reps));
    Print(GemvBench.Measure("vocab", DType.BF16, 1, 128256, 2048, pool, Math.Max(3, reps / 2)));
}

if (sections.Contains("gemvx"))
{
    // Diagnostic: a matrix far above L3, bf16 on the fly vs. f32, 1 and 2 threads.
    Console.WriteLine("| matrix | dtype | rows | threads | median ms | weight GB/s |\n| --- | --- | --- | --- | --- | --- |");
    using var bf = NativeBuffer.RandomWeights(DType.BF16, 16384L * 4096, 5);
    using var f32 = GemvBench.WidenToF32(bf, 16384L * 4096);
    foreach (var p in new[] { pool1, pool })
        foreach (var (dt, buf) in new[] { (DType.BF16, bf), (DType.F32, f32) })
        {
            var r = GemvBench.Measure("big", dt, 1, 16384, 4096, p, reps, buf);
            Console.WriteLine($"| {r.Name} {r.N}x{r.K} | {r.DType} | {r.Rows} | {r.Threads} | {r.Seconds * 1e3:F3} | {r.GBs:F1} |");
        }
}

int rounds = int.Parse(Arg("--rounds", "7"));
double MeasureBw() => StreamBench.Run(pool, 32L << 20, 3).ReadGBs;
double MeasureBw1() => StreamBench.Run(pool1, 32L << 20, 3).ReadGBs; // the roofline of a 1-thread run is 1-thread bandwidth

if (sections.Contains("incache"))
{
    // Diagnostic: compute rate with the weights in L2 (64 x 1024), 1 thread, repeated 200 times per sample.
    foreach (var dt in new[] { DType.BF16, DType.F32, DType.F16, DType.BF16, DType.F32 })
    {
        double s = GemvBench.InCache(dt, pool1, reps);
        Console.WriteLine($"{dt}: {s / 200 * 1e9 / (64.0 * 1024 / 16):F2} ns per 16-element vector, {64.0 * 1024 * 200 / s / 1e9:F1} G elements/s");
    }
}

if (sections.Contains("alias"))
{
    // Diagnostic: power-of-two row stride (K = 4096) vs. a padded stride, alternated in one process.
    foreach (var p in new[] { pool1, pool })
        for (int round = 0; round < 3; round++)
            foreach (int k in new[] { 4096, 4160 })
            {
                var r = GemvBench.Measure("alias", DType.BF16, 1, 8192, k, p, reps);
                Console.WriteLine($"threads {p.ThreadCount} K {k}: {r.Seconds * 1e3:F3} ms  {r.GBs:F1} GB/s");
            }
}

if (sections.Contains("streams"))
{
    Console.WriteLine("\n## Weight read order vs single-thread GEMV bandwidth (512 MiB bf16, 1 row, 1 thread; median (min–max) of the rounds)\n");
    StreamOrderBench.Run(Math.Max(3, rounds));
}

if (sections.Contains("sim"))
{
    Console.WriteLine($"\n## Decode, kernel-level simulation (bf16, {shape})\n");
    var r = DecodeSim.Run(shape, rounds, steps, pool, MeasureBw);
    PrintDecode($"kernel simulation, {pool.ThreadCount} threads", r, 2);
    // The same on one thread: on an oversubscribed machine a preempted worker holding a task stalls the step.
    r = DecodeSim.Run(shape, rounds, steps, pool1, MeasureBw1);
    PrintDecode("kernel simulation, 1 thread", r, 2);
}

if (sections.Contains("sampler"))
{
    Console.WriteLine("\n## Host sampling of one row (Sampler.Sample, vocabulary 128,256, one thread; includes copying the row)\n");
    Console.WriteLine("| case | median µs | logits GB/s |\n| --- | --- | --- |");
    foreach (var r in SamplerBench.Run(128_256, reps)) Console.WriteLine($"| {r.Case} | {r.Micros:F1} | {r.LogitsGBs:F1} |");
}

if (sections.Contains("write"))
{
    // Writes the random bf16 checkpoint of the decode sections to --out DIR and keeps it (for bench/LlamaSharpPeer).
    string outDir = Arg("--out", "");
    if (outDir.Length == 0) throw new ArgumentException("--sections write needs --out DIR");
    CheckpointWriter.Write(outDir, shape);
    Console.WriteLine($"wrote {outDir} ({shape})");
}

if (sections.Contains("quant"))
{
    Console.WriteLine("\n## Quantized weights: GEMV, bf16 vs Int8 vs Int4 vs FP8 E4M3 (alternated per round)\n");
    Console.WriteLine($"quantized kernel path: {CpuQuantGemm.Path}\n");
    Console.WriteLine("| matrix | weights | threads | median ms | weight GB/s (incl. scales) | speed vs bf16 (median, min–max) |\n| --- | --- | --- | --- | --- | --- |");
    foreach (var p in new[] { pool1, pool }) QuantBench.Gemv(4096, 4096, p, reps, rounds);
    Console.WriteLine($"\n## Quantized weights: decode through LlmEngine ({shape}, pool {pool.ThreadCount} threads)\n");
    string qdir = Path.Combine(Path.GetTempPath(), $"cpubench-quant-{Environment.ProcessId}");
    try
    {
        CheckpointWriter.Write(qdir, shape);
        CheckpointWriter.Write(qdir + "-fp8", shape, fp8: true);
        await QuantBench.Engine(qdir, qdir + "-fp8", promptLen: 32, newTokens: steps, rounds);
    }
    finally
    {
        if (Directory.Exists(qdir)) Directory.Delete(qdir, recursive: true);
        if (Directory.Exists(qdir + "-fp8")) Directory.Delete(qdir + "-fp8", recursive: true);
    }
}

if (sections.Contains("engine"))
{
    Console.WriteLine($"\n## Decode through LlmEngine (bf16 random checkpoint, {shape})\n");
    string dir = Path.Combine(Path.GetTempPath(), $"cpubench-llama-{Environment.ProcessId}");
    try
    {
        CheckpointWriter.Write(dir, shape);
        var r = await EngineBench.Run(dir, promptLen: 32, newTokens: steps, rounds, MeasureBw);
        Console.WriteLine($"prefill of 32 tokens + first token, median: {Timing.Median(Enumerable.Range(0, r.Length / 3).Select(i => r[3 * i + 2]).ToArray()) * 1e3:F0} ms\n");
        PrintDecode("LlmEngine.GenerateAsync", r, 3);
    }
    finally
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }
}

// Each round r holds [seconds per token, read bandwidth GB/s measured just before, ...] at r * stride.
void PrintDecode(string what, double[] r, int stride)
{
    double gb = shape.DecodeWeightBytes / 1e9;
    int n = r.Length / stride;
    var step = Enumerable.Range(0, n).Select(i => r[i * stride]).ToArray();
    var bw = Enumerable.Range(0, n).Select(i => r[i * stride + 1]).ToArray();
    var pct = Enumerable.Range(0, n).Select(i => 100 * (1 / step[i]) / (bw[i] / gb)).ToArray();
    Console.WriteLine("| round | read GB/s (just before) | step ms (median) | tokens/s | roofline tok/s | % of roofline |\n| --- | --- | --- | --- | --- | --- |");
    for (int i = 0; i < n; i++)
        Console.WriteLine($"| {i + 1} | {bw[i]:F1} | {step[i] * 1e3:F2} | {1 / step[i]:F1} | {bw[i] / gb:F1} | {pct[i]:F0}% |");
    double ms = Timing.Median(step);
    Console.WriteLine($"| **median** ({what}, {gb:F3} GB weights/token) | {Timing.Median(bw):F1} | {ms * 1e3:F2} | {1 / ms:F1} | {Timing.Median(bw) / gb:F1} | **{Timing.Median(pct):F0}%** |");
}

string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
