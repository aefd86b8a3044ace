using System.Runtime.Intrinsics;
using CpuBench;
using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;

// CPU benchmark: memory bandwidth (STREAM-like), GEMV bandwidth vs. that bandwidth, and single-stream decode
// (kernel-level simulation and the real engine) vs. the roofline bandwidth / weight bytes per token.
// Usage: dotnet run -c Release --project bench/CpuBench -- [--sections stream,gemv,sim,engine] [--reps N] [--steps N]
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

if (sections.Contains("sim"))
{
    Console.WriteLine($"\n## Decode, kernel-level simulation (bf16, {shape})\n");
    var (tps, step) = DecodeSim.Run(shape, steps, pool);
    PrintDecode("kernel simulation", tps, step);
}

if (sections.Contains("engine"))
{
    Console.WriteLine($"\n## Decode through LlmEngine (bf16 random checkpoint, {shape})\n");
    string dir = Path.Combine(Path.GetTempPath(), $"cpubench-llama-{Environment.ProcessId}");
    try
    {
        CheckpointWriter.Write(dir, shape);
        var (tps, first) = await EngineBench.Run(dir, promptLen: 32, newTokens: steps);
        Console.WriteLine($"prefill of 32 tokens + first token: {first * 1e3:F0} ms");
        PrintDecode("LlmEngine.GenerateAsync", tps, 1 / tps);
    }
    finally
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }
}

void PrintDecode(string what, double tps, double step)
{
    double gb = shape.DecodeWeightBytes / 1e9;
    double bw = double.IsNaN(readBw) ? StreamBench.Run(pool, 64L << 20, 5).ReadGBs : readBw;
    double roof = bw / gb;
    Console.WriteLine("| path | weight GB/token | median step ms | tokens/s | roofline tok/s (read BW / bytes) | % of roofline | effective GB/s |\n| --- | --- | --- | --- | --- | --- | --- |");
    Console.WriteLine($"| {what} | {gb:F3} | {step * 1e3:F2} | {tps:F1} | {roof:F1} (at {bw:F1} GB/s) | {100 * tps / roof:F0}% | {tps * gb:F1} |");
}

string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
