using Microsoft.Extensions.Logging;
using PagedAttention.AI.Sampling;

namespace PagedAttention.AI.Engine;

/// <summary>Options of an <see cref="LlmEngine"/>.</summary>
public sealed class EngineOptions
{
    /// <summary>Largest <see cref="MaxNumSeqs"/> accepted: 65,536.</summary>
    public const int MaxNumSeqsLimit = 1 << 16;

    /// <summary>Largest <see cref="MaxNumBatchedTokens"/> accepted: 1,048,576.</summary>
    public const int MaxNumBatchedTokensLimit = 1 << 20;

    /// <summary>Largest <see cref="NumKvBlocks"/> accepted: 4,194,304.</summary>
    public const int NumKvBlocksLimit = 1 << 22;

    /// <summary>Largest <see cref="KvCacheBytes"/> accepted: 1 TiB.</summary>
    public const long KvCacheBytesLimit = 1L << 40;

    /// <summary>Largest <see cref="MaxModelLen"/> accepted: 16,777,216 tokens.</summary>
    public const int MaxModelLenLimit = 1 << 24;

    /// <summary>
    /// The model: a Hugging Face model directory (config.json, *.safetensors, tokenizer files), a file inside one, a
    /// Hugging Face hub cache folder (<c>models--org--name</c>, resolved through refs/main to its snapshot) or a repo id
    /// (<c>org/name</c>, looked up in HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub). A relative path is
    /// tried against the working directory, then <see cref="AppContext.BaseDirectory"/>. Empty (default): the small
    /// default model the PagedAttention.AI package copies next to the application (docs/getting-started.md).
    /// </summary>
    public string ModelPath { get; set; } = "";

    /// <summary>"cpu" (default) or "cuda".</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>Tokens per KV-cache block.</summary>
    public int BlockSize { get; set; } = 16;

    /// <summary>
    /// Bytes given to the KV cache on the CPU; ignored when <see cref="NumKvBlocks"/> is set. Null (default): sized from
    /// the model — room for <see cref="MaxNumSeqs"/> sequences of <see cref="MaxModelLen"/> (or the model's limit), at
    /// most 1 GiB (docs/getting-started.md, "Memory").
    /// </summary>
    public long? KvCacheBytes { get; set; }

    /// <summary>
    /// With <see cref="Device"/> "cuda": the fraction of the GPU's memory this engine may use (weights, activations,
    /// KV cache, and what other processes already hold); the KV cache gets what is left after the weights and a
    /// profiling step of <see cref="MaxNumBatchedTokens"/> tokens. Ignored when <see cref="NumKvBlocks"/> is set.
    /// </summary>
    public double GpuMemoryUtilization { get; set; } = 0.9;

    /// <summary>With <see cref="Device"/> "cuda": launch every step eagerly instead of replaying CUDA graphs for decode steps.</summary>
    public bool EnforceEager { get; set; }

    /// <summary>Exact number of KV blocks; overrides <see cref="KvCacheBytes"/>.</summary>
    public int? NumKvBlocks { get; set; }

    /// <summary>Most sequences running in one step.</summary>
    public int MaxNumSeqs { get; set; } = 64;

    /// <summary>Most tokens (prefill chunks plus decodes) in one step.</summary>
    public int MaxNumBatchedTokens { get; set; } = 2048;

    /// <summary>Longest prompt + output; null uses the model's limit.</summary>
    public int? MaxModelLen { get; set; }

    /// <summary>Reuse KV blocks of identical prompt prefixes across requests.</summary>
    public bool EnablePrefixCaching { get; set; } = true;

    /// <summary>Most tokens one prompt may advance by in a step, leaving budget to other requests' decodes; 0 = no cap.</summary>
    public int LongPrefillTokenThreshold { get; set; }

    /// <summary>
    /// Host memory for swapped-out KV blocks (swap preemption; vLLM's <c>swap_space</c>, 4 GiB there): when the cache runs
    /// out of blocks, a preempted sequence whose blocks are cheaper to copy out and back than its tokens are to recompute
    /// (measured copy bandwidth vs measured prefill rate) is swapped to this space and resumes before new requests are
    /// admitted. 0 (default) = preemption always recomputes. On the CPU it is a second region of the same memory; with
    /// "cuda", page-locked host memory with copies on their own stream.
    /// </summary>
    public long SwapSpaceBytes { get; set; }

    /// <summary>
    /// Host memory for the prefix cache's host tier: full cached blocks evicted from the KV cache are copied there
    /// (LRU, bounded by this), and a later prefix hit copies them back instead of recomputing them; hashes and salts as on
    /// the device. 0 (default) = off (on the CPU the device cache is host memory already: a bigger KvCacheBytes does the same).
    /// </summary>
    public long HostCacheBytes { get; set; }

    /// <summary>Forces swap or recompute on preemption (tests); default: by cost.</summary>
    internal Scheduling.PreemptionMode PreemptionMode { get; set; }

    /// <summary>
    /// Most of the KV cache that pinned prefixes (<see cref="LlmEngine.PinPrefixAsync"/>) may hold together, as a
    /// fraction of its blocks, in (0, 1]; a pin beyond it is refused with <see cref="InvalidOperationException"/>. Default 0.5.
    /// </summary>
    public double MaxPinnedKvFraction { get; set; } = 0.5;

    /// <summary>
    /// Creates one streaming detokenizer per generated sequence; needed for <see cref="GenerationOutput.TextDelta"/>
    /// and for <see cref="SamplingParams.StopStrings"/>. Null: the model directory's tokenizer.json is used, special
    /// tokens skipped (the chat client passes its own per request, which keeps the tool-call and reasoning markers its
    /// parsers read); without one, outputs carry token ids only.
    /// </summary>
    public Func<IStreamingDetokenizer>? DetokenizerFactory { get; set; }

    /// <summary>
    /// Most outputs a request's stream may hold unread; when its reader falls this far behind, the request is aborted
    /// (its stream ends with an <see cref="InvalidOperationException"/> naming this option) and its KV blocks are freed,
    /// instead of buffering without bound. Default 65,536.
    /// </summary>
    public int MaxBufferedOutputsPerRequest { get; set; } = 1 << 16;

    /// <summary>
    /// Check each request's first-token logits for NaN/Inf and fail the request (<see cref="InvalidOperationException"/>,
    /// "non-finite logits") instead of emitting garbage. Null (default): on for the CPU, off for CUDA, where it makes
    /// first-token rows come back to the host and the step with them run unpipelined.
    /// </summary>
    public bool? CheckFirstTokenLogits { get; set; }

    /// <summary>
    /// With <c>AddPagedAttention</c> in a host: true (default) loads the model while the host starts (a hosted service),
    /// so a bad model fails the start and the first request does not pay the load; false loads on first use.
    /// <see cref="LlmEngine.LoadAsync"/> ignores it.
    /// </summary>
    public bool LoadOnStart { get; set; } = true;

    /// <summary>Receives engine warnings (preemptions) and request failures; null logs nothing. Whatever it throws is swallowed and counted (<see cref="EngineMetrics.DroppedLogCalls"/>).</summary>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// Quantize the decoder layers' linear weights at load (docs/cpu-kernels.md, "Quantized weights"; with
    /// <see cref="Device"/> "cuda" only Fp8, as W8A8 on FP8 tensor cores, docs/cuda.md, "FP8 weights"):
    /// <see cref="AI.Engine.WeightQuantization.Fp8"/> (E4M3, a scale per output row, run by the FP8 GEMV of FP8 checkpoints;
    /// compressed-tensors FP8 checkpoints load as FP8 with None or Fp8),
    /// <see cref="AI.Engine.WeightQuantization.Int8"/> (per output row) or <see cref="AI.Engine.WeightQuantization.Int4"/>
    /// (a scale per 32 inputs), from a bf16/f16/f32 checkpoint, with integer kernels (docs/cpu-kernels.md). The embedding and the norms stay in the checkpoint's precision; the
    /// LM head follows <see cref="LmHeadQuantization"/>. Decode reads 2x (Int8) or ~3.2x (Int4) fewer weight bytes per
    /// token than bf16; results differ slightly from the unquantized model (on the default model Int8 keeps 99.8 % top-1
    /// agreement, Int4 95.7 %: docs/cpu-kernels.md).
    /// Checkpoints that ship pre-quantized weights (a <c>quantization_config</c> in config.json) are read only for GPTQ
    /// 4-bit symmetric (bits 4, sym true, desc_act false, group_size -1 or a multiple of 32), exactly into Int4, on the
    /// CPU: with one, None or Int4 are accepted (the GPTQ layers are Int4 as read; Int4 also quantizes layers it left in
    /// float) and Int8 fails the load. Other formats (AWQ, asymmetric or act-order GPTQ, ...) and GPTQ with Device
    /// "cuda" fail with a <see cref="Models.ModelLoadException"/> naming the format and reason (docs/cpu-kernels.md,
    /// "Reading GPTQ checkpoints"). With <see cref="Device"/> "cuda", Int8 and Int4 are rejected; Fp8 (and an FP8
    /// checkpoint) needs an sm_89+ GPU and cuBLASLt 12.9+ (else a <see cref="NotSupportedException"/> at load).
    /// Default <see cref="AI.Engine.WeightQuantization.None"/>.
    /// </summary>
    public WeightQuantization WeightQuantization { get; set; }

    /// <summary>
    /// The LM head's format, CPU only (no FP8: with FP8 layers the LM head stays in the checkpoint's precision). Null or <see cref="AI.Engine.WeightQuantization.None"/> (default): the checkpoint's
    /// dtype, because the LM head decides the top token directly (on the default model an Int8 LM head alone costs 0.9 %
    /// top-1 agreement, docs/benchmarks.md); Int8 / Int4 quantize it as the layers are (a tied LM head as its own copy: the
    /// embedding table itself is never quantized). It saves vocab x hidden x 1 (Int8) bytes per decode step.
    /// </summary>
    public WeightQuantization? LmHeadQuantization { get; set; }

    /// <summary>
    /// The KV cache's element type (docs/cuda.md, "FP8 KV cache"). <see cref="AI.Engine.KvCacheDtype.Auto"/> (default):
    /// the backend's own (bf16 on CUDA; the CPU cache as it always was). <see cref="AI.Engine.KvCacheDtype.Fp8E4M3"/>,
    /// CUDA only: K and V stored as FP8 E4M3 with a scale per layer (the checkpoint's
    /// <c>self_attn.k_scale</c> / <c>v_scale</c>, else 1), one byte per element, so the same GPU memory holds twice the
    /// KV blocks and attention reads half the bytes; results differ slightly from bf16. With <see cref="Device"/>
    /// "cpu" it is rejected by <see cref="Validate"/> (<see cref="ArgumentException"/> naming this option).
    /// </summary>
    public KvCacheDtype KvCacheDtype { get; set; }

    /// <summary>
    /// How often the engine logs vLLM's stats line at Information through <see cref="Logger"/> (prompt and generation
    /// throughput, running and waiting sequences, KV-cache usage, prefix-cache hit rate), only for intervals in which it
    /// worked; default 10 s, <see cref="TimeSpan.Zero"/> turns it off.
    /// </summary>
    public TimeSpan StatsLogInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The A/B and debug switches (docs/switches.md) for this engine and its backend; null reads the
    /// <c>PAGEDATTENTION_*</c> environment variables once at load. Internal: tests and bench programs set it directly.
    /// </summary>
    internal Kernels.RuntimeSwitches? Switches { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (Device is not ("cpu" or "cuda")) throw new ArgumentException($"EngineOptions.Device must be \"cpu\" or \"cuda\", got \"{Device}\".", nameof(Device));
        if (BlockSize is < 1 or > 1024) throw new ArgumentException($"EngineOptions.BlockSize must be in 1..1024, got {BlockSize}.", nameof(BlockSize));
        if (KvCacheBytes is <= 0 or > KvCacheBytesLimit) throw new ArgumentException($"EngineOptions.KvCacheBytes must be in 1..{KvCacheBytesLimit} (1 TiB), got {KvCacheBytes}.", nameof(KvCacheBytes));
        if (!(GpuMemoryUtilization > 0 && GpuMemoryUtilization <= 1)) throw new ArgumentException($"EngineOptions.GpuMemoryUtilization must be in (0, 1], got {GpuMemoryUtilization}.", nameof(GpuMemoryUtilization));
        if (NumKvBlocks is <= 0 or > NumKvBlocksLimit) throw new ArgumentException($"EngineOptions.NumKvBlocks must be in 1..{NumKvBlocksLimit}, got {NumKvBlocks}.", nameof(NumKvBlocks));
        if (MaxNumSeqs is < 1 or > MaxNumSeqsLimit) throw new ArgumentException($"EngineOptions.MaxNumSeqs must be in 1..{MaxNumSeqsLimit}, got {MaxNumSeqs}.", nameof(MaxNumSeqs));
        if (MaxNumBatchedTokens is < 1 or > MaxNumBatchedTokensLimit) throw new ArgumentException($"EngineOptions.MaxNumBatchedTokens must be in 1..{MaxNumBatchedTokensLimit}, got {MaxNumBatchedTokens}.", nameof(MaxNumBatchedTokens));
        if (LongPrefillTokenThreshold < 0) throw new ArgumentException("EngineOptions.LongPrefillTokenThreshold must be >= 0.", nameof(LongPrefillTokenThreshold));
        if (MaxBufferedOutputsPerRequest < 1) throw new ArgumentException("EngineOptions.MaxBufferedOutputsPerRequest must be >= 1.", nameof(MaxBufferedOutputsPerRequest));
        if (!Enum.IsDefined(WeightQuantization)) throw new ArgumentException($"EngineOptions.WeightQuantization must be None, Int8, Int4 or Fp8, got {(int)WeightQuantization}.", nameof(WeightQuantization));
        if (LmHeadQuantization is { } lm && !Enum.IsDefined(lm)) throw new ArgumentException($"EngineOptions.LmHeadQuantization must be None, Int8, Int4 or null, got {(int)lm}.", nameof(LmHeadQuantization));
        if (LmHeadQuantization == WeightQuantization.Fp8)
            throw new ArgumentException("EngineOptions.LmHeadQuantization Fp8 is not supported: the LM head stays in the checkpoint's precision with FP8 layers (use None, or Int8 / Int4 on the CPU).", nameof(LmHeadQuantization));
        if (Device == "cuda" && WeightQuantization is WeightQuantization.Int8 or WeightQuantization.Int4)
            throw new ArgumentException($"EngineOptions.WeightQuantization {WeightQuantization} is CPU-only: integer weights are not supported with Device \"cuda\" (use None, Fp8, or Device \"cpu\").", nameof(WeightQuantization));
        if (Device == "cuda" && LmHeadQuantization is not (null or WeightQuantization.None))
            throw new ArgumentException("EngineOptions.LmHeadQuantization is CPU-only: with Device \"cuda\" the LM head stays in bf16 (use None, or Device \"cpu\").", nameof(LmHeadQuantization));
        if (!Enum.IsDefined(KvCacheDtype)) throw new ArgumentException($"EngineOptions.KvCacheDtype must be Auto or Fp8E4M3, got {(int)KvCacheDtype}.", nameof(KvCacheDtype));
        if (Device == "cpu" && KvCacheDtype == KvCacheDtype.Fp8E4M3)
            throw new ArgumentException("EngineOptions.KvCacheDtype Fp8E4M3 is CUDA-only: the CPU KV cache stays in its own precision (use Auto, or Device \"cuda\").", nameof(KvCacheDtype));
        if (HostCacheBytes is < 0 or > KvCacheBytesLimit) throw new ArgumentException($"EngineOptions.HostCacheBytes must be in 0..{KvCacheBytesLimit} (1 TiB), got {HostCacheBytes}.", nameof(HostCacheBytes));
        if (SwapSpaceBytes is < 0 or > KvCacheBytesLimit) throw new ArgumentException($"EngineOptions.SwapSpaceBytes must be in 0..{KvCacheBytesLimit} (1 TiB), got {SwapSpaceBytes}.", nameof(SwapSpaceBytes));
        if (!(MaxPinnedKvFraction > 0 && MaxPinnedKvFraction <= 1)) throw new ArgumentException($"EngineOptions.MaxPinnedKvFraction must be in (0, 1], got {MaxPinnedKvFraction}.", nameof(MaxPinnedKvFraction));
        if (StatsLogInterval < TimeSpan.Zero) throw new ArgumentException($"EngineOptions.StatsLogInterval must be >= 0, got {StatsLogInterval}.", nameof(StatsLogInterval));
        if (MaxModelLen is <= 0 or > MaxModelLenLimit) throw new ArgumentException($"EngineOptions.MaxModelLen must be in 1..{MaxModelLenLimit}, got {MaxModelLen}.", nameof(MaxModelLen));
    }
}
