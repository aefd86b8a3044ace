using PagedAttention.Kernels;
using PagedAttention.Kernels.Cuda;
using PagedAttention.Kernels.Cuda.Interop;

namespace GpuCheck;

/// <summary>
/// GPU checks for the CUDA backend, run on the GPU machine (which has no .NET SDK, so no xunit): kernels against the
/// CPU reference, tiny checkpoints against transformers goldens, and an optional decode benchmark.
/// Usage: GpuCheck [--swap MODELS_DIR] [--prefill] [--kernels] [--fp8-kernels] [--kv-fp8] [--kv-fp8-models DIR[=BAR][,DIR[=BAR]...] [--continuation 32]] [--kv-fp8-engine DIR[,DIR...]] [--models DIR] [--fp8-models DIR[,DIR...] [--continuation 48]] [--engine DIR] [--engine-bench MODEL_DIR] [--bench MODEL_DIR [--batches 1,64] [--prompt 128] [--steps 128]] [--prefill-bench MODEL_DIR [--batches 1,64] [--prompt 1024]] [--attn-bench] [--gemm-bench]
/// Prints PASS/FAIL lines; the exit code is the number of failures.
/// </summary>
internal static class Program
{
    /// <summary>The PAGEDATTENTION_* switches of this run (docs/switches.md), read once.</summary>
    public static RuntimeSwitches Switches { get; } = RuntimeSwitches.FromEnvironment();

    private static int Main(string[] args)
    {
        string? Arg(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        if (!CudaDevice.IsAvailable)
        {
            Console.WriteLine("SKIP no CUDA device (libcuda.so.1 missing or no GPU)");
            return 0;
        }
        using var d = CudaDevice.Open(Switches);
        var (maj, min) = NvrtcCompiler.Version;
        Console.WriteLine($"device: {d}; NVRTC {maj}.{min}; kernel cache {Switches.KernelCacheDirectory ?? "(default)"}; {Switches}");
        var rep = new Report();
        if (args.Contains("--prefill")) PrefillChecks.Run(d, rep);
        if (args.Contains("--kernels")) KernelChecks.Run(d, rep);
        if (args.Contains("--fp8-kernels")) Fp8Checks.Run(d, rep);
        if (Arg("--models") is { } models) ModelChecks.Run(d, models, rep);
        if (args.Contains("--kv-fp8")) KvFp8Checks.Run(d, rep);
        if (Arg("--kv-fp8-engine") is { } kvEngines) KvFp8EngineChecks.Run(kvEngines.Split(','), rep);
        if (Arg("--kv-fp8-models") is { } kvModels) KvFp8ModelChecks.Run(d, kvModels.Split(','), rep, int.Parse(Arg("--continuation") ?? "32"));
        if (Arg("--fp8-models") is { } fp8Models) Fp8ModelChecks.Run(d, fp8Models.Split(','), rep, int.Parse(Arg("--continuation") ?? "48"));
        if (Arg("--swap") is { } swapModels) SwapChecks.Run(d, swapModels, rep);
        if (args.Contains("--gemv")) rep.Run("gemv", () => EngineChecks.CheckGemv(d, rep));
        if (Arg("--engine") is { } engineModels) { EngineChecks.Run(engineModels, rep); ConstrainedEngineChecks.Run(Path.Combine(engineModels, "llama"), rep); }
        if (Arg("--engine-bench") is { } eb)
        {
            var batches = (Arg("--batches") ?? "1,64").Split(',').Select(int.Parse).ToArray();
            rep.Run("engine-bench", () => EngineChecks.Bench(eb, batches, int.Parse(Arg("--prompt") ?? "128"), int.Parse(Arg("--steps") ?? "128"), rep));
        }
        if (args.Contains("--attn-bench")) rep.Run("attn-bench", () => AttnBench.Run(d));
        if (args.Contains("--gemm-bench")) rep.Run("gemm-bench", () => GemmBench.Run(d));
        if (Arg("--bench") is { } bench)
        {
            var batches = (Arg("--batches") ?? "1,64").Split(',').Select(int.Parse).ToArray();
            rep.Run("bench", () => DecodeBench.Run(d, bench, batches, int.Parse(Arg("--prompt") ?? "128"), int.Parse(Arg("--steps") ?? "128"), DevicePeaks.Of(d)));
        }
        if (Arg("--prefill-bench") is { } pb)
        {
            var batches = (Arg("--batches") ?? "1,64").Split(',').Select(int.Parse).ToArray();
            rep.Run("prefill-bench", () => PrefillChecks.Bench(d, pb, batches, int.Parse(Arg("--prompt") ?? "1024"), rep));
        }
        Console.WriteLine($"SUMMARY passed={rep.Passed} failed={rep.Failed}");
        return rep.Failed;
    }
}
