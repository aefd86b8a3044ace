using PagedAttention.AI.Models;
using PagedAttention.AI.Models.Cuda;
using PagedAttention.AI.Sampling;
using PagedAttention.Kernels;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.AI.Engine;

/// <summary>
/// Chooses and loads the backend named by <see cref="EngineOptions.Device"/> (the CPU's <see cref="LlamaModel"/> or the
/// CUDA runner) and the model directory's tokenizer, which the engine uses only to detokenize its outputs (through
/// <see cref="IStreamingDetokenizer"/>). The chat template is the chat client's business, not the engine's.
/// </summary>
internal static class EngineLoader
{
    /// <summary>What <see cref="Load"/> produced; the caller owns the runner.</summary>
    public sealed record Loaded(IModelRunner Runner, Tokenizer? Tokenizer, RuntimeSwitches Switches);

    /// <summary>
    /// The switches an engine runs with: <see cref="EngineOptions.Switches"/>, else the environment's, read once here
    /// and handed to the backend and the engine.
    /// </summary>
    public static RuntimeSwitches SwitchesOf(EngineOptions options) => options.Switches ?? RuntimeSwitches.FromEnvironment();

    /// <summary>Loads the runner and the tokenizer (if tokenizer.json exists); disposes the runner when the tokenizer fails.</summary>
    /// <exception cref="ModelLoadException">The model directory cannot be loaded.</exception>
    public static Loaded Load(EngineOptions options)
    {
        var switches = SwitchesOf(options);
        // ModelPath as the user wrote it (empty, relative, a file, a hub cache folder, a repo id) -> one model directory.
        string dir = ModelLocator.Resolve(options.ModelPath);
        var runner = CreateRunner(options, dir, switches);
        try
        {
            // The CPU runner checked its budget before allocating its cache; a device runner's host buffers are checked here.
            if (runner.Device != "cpu")
                HostMemoryBudget.Check(options, runner.Model.Config, runner.NumKvBlocks, 0, cpuActivations: false, HostMemoryBudget.AvailableBytes);
            return new Loaded(runner, LoadTokenizer(dir), switches);
        }
        catch { runner.Dispose(); throw; }
    }

    /// <summary>
    /// The tokenizer of <paramref name="dir"/>, or null when it has no tokenizer.json. A bad tokenizer file is a
    /// <see cref="ModelLoadException"/> like any other problem of the model directory.
    /// </summary>
    public static Tokenizer? LoadTokenizer(string dir)
    {
        string file = Path.Combine(dir, "tokenizer.json");
        if (!File.Exists(file)) return null;
        try { return Tokenizer.FromFile(dir); }
        catch (TokenizerLoadException e) { throw new ModelLoadException(e.FilePath ?? file, null, e.Problem, e); }
    }

    /// <summary>The engine's default detokenizer: one streaming decoder per sequence, special tokens skipped.</summary>
    public static Func<IStreamingDetokenizer>? DefaultDetokenizer(EngineOptions options, Tokenizer? tokenizer) =>
        options.DetokenizerFactory ?? (tokenizer is null ? null : StreamingDecoderDetokenizer.Factory(tokenizer, skipSpecialTokens: true));

    /// <summary>The decoder layers' weight format for <see cref="EngineOptions.WeightQuantization"/> (null: the checkpoint's).</summary>
    public static DType? LayerFormat(EngineOptions o) => Format(o.WeightQuantization);

    /// <summary>The LM head's format: <see cref="EngineOptions.LmHeadQuantization"/>, by default the checkpoint's dtype.</summary>
    public static DType? LmHeadFormat(EngineOptions o) => Format(o.LmHeadQuantization ?? WeightQuantization.None);

    private static DType? Format(WeightQuantization q) => q switch
    {
        WeightQuantization.Int8 => DType.Int8,
        WeightQuantization.Int4 => DType.Int4,
        WeightQuantization.Fp8 => DType.F8E4M3,
        _ => null,
    };

    // A directory whose config.json does not load fails later the same way as before (after the CUDA check).
    private static ModelConfig? TryConfig(string dir)
    {
        try { return ModelConfig.Load(dir); }
        catch (ModelLoadException) { return null; }
    }

    /// <summary>
    /// Whether the checkpoint's weight files take at most half the memory available to the process, so that copying the
    /// float weights out of the mapped files onto huge pages (<see cref="RuntimeSwitches.CpuHugePages"/>) leaves room for
    /// the KV cache and activations. A larger checkpoint keeps being read through the mapping, which the OS can page
    /// instead of the process running out of memory. Any error reading the sizes answers false (the mapping then).
    /// </summary>
    private static bool WeightsFitInMemory(string dir)
    {
        try
        {
            long bytes = 0;
            foreach (var f in Directory.EnumerateFiles(dir, "*.safetensors"))
            {
                var info = new FileInfo(f);
                bytes += (info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info).Length;
            }
            return bytes <= HostMemoryBudget.AvailableBytes / 2;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    private static IModelRunner CreateRunner(EngineOptions o, string dir, RuntimeSwitches switches)
    {
        if (o.Device == "cuda")
        {
            // GPTQ checkpoints are CPU-only: say so before asking for CUDA (reading config.json is cheap).
            if (TryConfig(dir) is { } config) ModelConfig.RejectCpuOnlyFormatsOn("cuda", config, dir);
            // Fail before touching the GPU when CUDA is missing, naming what is missing; a bad directory fails the same way as on the CPU.
            CudaModelRunner.CheckCudaPresent();
            return CudaModelRunner.Create(dir, o.BlockSize, o.MaxNumSeqs, o.MaxNumBatchedTokens, o.MaxModelLen ?? int.MaxValue,
                o.NumKvBlocks, o.GpuMemoryUtilization, cudaGraphs: !o.EnforceEager, switches, fp8Layers: o.WeightQuantization == WeightQuantization.Fp8,
                fp8KvCache: o.KvCacheDtype == KvCacheDtype.Fp8E4M3);
        }
        var m = LlamaModel.Load(dir, LayerFormat(o), LmHeadFormat(o), switches.CpuHugePages && WeightsFitInMemory(dir));
        try
        {
            long kvBytes = o.KvCacheBytes ?? KvCacheSizing.CpuDefaultBytes(m.Config, m.KvBytesPerBlock(o.BlockSize) / o.BlockSize, o);
            int blocks = o.NumKvBlocks ?? Math.Min(CpuModelRunner.BlocksFor(m, kvBytes, o.BlockSize), EngineOptions.NumKvBlocksLimit);
            HostMemoryBudget.Check(o, m.Config, blocks, m.KvBytesPerBlock(o.BlockSize), cpuActivations: true, HostMemoryBudget.AvailableBytes);
            return new CpuModelRunner(m, blocks, o.BlockSize);
        }
        catch { m.Dispose(); throw; }
    }
}
