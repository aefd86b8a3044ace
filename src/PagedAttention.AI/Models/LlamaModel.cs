using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;

namespace PagedAttention.AI.Models;

/// <summary>
/// The Llama-family decoder (Llama, Mistral, Qwen2, Qwen3) on the CPU: weights memory-mapped from safetensors,
/// activations in float32, K/V in a paged cache addressed through block tables.
/// </summary>
internal sealed class LlamaModel : IDecoderModel, IDisposable
{
    private readonly CheckpointTensors _tensors;
    private readonly WeightMatrix _embed;
    private readonly WeightMatrix _lmHead;
    private readonly float[] _finalNorm;
    private readonly LayerWeights[] _layers;
    private readonly float[] _invFreq;
    private readonly float _scale;
    private readonly List<IDisposable> _quantized = [];
    private Scratch? _scratch;
    private readonly bool _hugePages; // linear weights in owned huge-page memory, not read through the mapped file
    private WeightArena? _arena;      // the float weights' copies (with _hugePages)

    private LlamaModel(string dir, ModelConfig config, CheckpointTensors tensors, DType? layers, DType? lmHead, bool hugePages)
    {
        Directory = dir;
        _hugePages = hugePages;
        Config = config;
        _tensors = tensors;
        try
        {
            _embed = tensors.Matrix("model.embed_tokens.weight", config.VocabSize, config.HiddenSize);
            if (config.Fp8 is not null && (tensors.Info(LayerWeightName(0, "self_attn.q_proj")).DTypeName != "F8_E4M3"))
                throw new ModelLoadException(dir, LayerWeightName(0, "self_attn.q_proj"), "config.json's quantization_config says compressed-tensors FP8, but layer 0's q_proj weight is not F8_E4M3; the checkpoint is not FP8-quantized.");
            if (config.Gptq is not null && tensors.Contains("lm_head.qweight"))
                throw new ModelLoadException(dir, "lm_head.qweight", "a GPTQ-quantized LM head is not supported (only the decoder layers' linear weights).");
            // A config that says GPTQ over a file with no packed layer is a mislabelled or half-converted checkpoint:
            // loading it as float would hide that (layers without qweight are allowed only next to ones with it).
            if (config.Gptq is not null && !tensors.Contains("model.layers.0.self_attn.q_proj.qweight") && !tensors.Contains("model.layers.0.mlp.down_proj.qweight"))
                throw new ModelLoadException(dir, "model.layers.0.self_attn.q_proj.qweight", "config.json's quantization_config says GPTQ, but layer 0 has no packed weights (qweight); the checkpoint is not GPTQ-quantized.");
            var head = config.TieWordEmbeddings && !tensors.Contains("lm_head.weight")
                ? _embed
                : tensors.Matrix("lm_head.weight", config.VocabSize, config.HiddenSize);
            _lmHead = Quantize(head, lmHead);
            _finalNorm = tensors.Vector("model.norm.weight", config.HiddenSize);
            _layers = new LayerWeights[config.NumLayers];
            for (int l = 0; l < _layers.Length; l++) _layers[l] = LayerWeights.Load(tensors, config, l, (name, rows, cols) => Linear(name, rows, cols, layers));
            _invFreq = config.Rope.InverseFrequencies(config.HeadDim);
            _scale = 1f / MathF.Sqrt(config.HeadDim);
        }
        catch
        {
            foreach (var q in _quantized) q.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One linear weight: a GPTQ layer (<c>qweight</c> present) read exactly as Int4, else the float weight quantized to
    /// <paramref name="target"/> (or kept).
    /// </summary>
    private WeightMatrix Linear(string name, int rows, int cols, DType? target)
    {
        if (LinearFormatOverride is { } pick) target = pick(name, target);
        if (Config.Fp8 is { } f8 && _tensors.Contains(name + ".weight") && _tensors.Info(name + ".weight").DTypeName == "F8_E4M3")
        {
            var fp8 = Fp8Reader.Read(_tensors, name, rows, cols, f8);
            _quantized.Add(fp8);
            return fp8.Matrix;
        }
        if (Config.Gptq is not { } f || !_tensors.Contains(name + ".qweight")) return Quantize(_tensors.Matrix(name + ".weight", rows, cols), target);
        var q = GptqReader.Read(_tensors, name, rows, cols, f);
        _quantized.Add(q);
        return q.Matrix;
    }

    private static string LayerWeightName(int layer, string proj) => $"model.layers.{layer}.{proj}.weight";

    /// <summary>Measurement hook (tests only): the format of one linear weight by name, given the configured one.</summary>
    internal static Func<string, DType?, DType?>? LinearFormatOverride { get; set; }

    private WeightMatrix Quantize(WeightMatrix m, DType? target)
    {
        if (target is not { } t)
        {
            if (!_hugePages) return m;
            // Out of the mapped file (4 KiB pages: a TLB miss and a prefetcher stop every 4 KiB of a GEMV's walk) into
            // huge pages; the file's pages are unmapped after the copy so the weights are resident once.
            if (_arena is null) _quantized.Add(_arena = new WeightArena());
            return _arena.Copy(m, releaseSource: true);
        }
        var q = QuantizedMatrix.Quantize(m, t, _hugePages);
        // The float source is no longer read (a tied embedding's rows fault back in from the page cache when read).
        if (_hugePages) HugePageMemory.ReleaseFileRange(m.Data, (nuint)m.SizeInBytes);
        _quantized.Add(q);
        return q.Matrix;
    }

    /// <summary>The linear layers' format: the checkpoint's dtype, or Int8 / Int4 when quantized at load.</summary>
    public DType LayerDType => _layers[0].Q.DType;

    /// <summary>Layer <paramref name="layer"/>'s weights (tests read them back).</summary>
    internal LayerWeights Layer(int layer) => _layers[layer];

    /// <summary>The LM head's format.</summary>
    public DType LmHeadDType => _lmHead.DType;

    /// <summary>The model directory.</summary>
    public string Directory { get; }

    /// <summary>The parsed configuration.</summary>
    public ModelConfig Config { get; }

    /// <summary>Loads a Hugging Face model directory (config.json + safetensors).</summary>
    /// <exception cref="ModelLoadException">Anything about the directory is missing, corrupt or unsupported.</exception>
    public static LlamaModel Load(string modelDir) => Load(modelDir, null, null);

    /// <summary>
    /// Loads a model directory, quantizing the decoder layers' linear weights to <paramref name="layers"/> and the LM head
    /// to <paramref name="lmHead"/> (Int8 or Int4; null keeps the checkpoint's dtype). A GPTQ checkpoint's layers are read
    /// as Int4 exactly; <paramref name="layers"/> must then be null or Int4 (Int4 also quantizes any layer it left in float).
    /// With <paramref name="hugePages"/> (the engine's default, <see cref="RuntimeSwitches.CpuHugePages"/>) the float linear
    /// weights and the LM head are copied out of the mapped file into huge pages, and quantized ones built there.
    /// </summary>
    /// <exception cref="ModelLoadException">Anything about the directory is missing, corrupt or unsupported.</exception>
    public static LlamaModel Load(string modelDir, DType? layers, DType? lmHead, bool hugePages = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDir);
        if (!System.IO.Directory.Exists(modelDir)) throw new ModelLoadException(modelDir, null, "model directory not found.");
        var config = ModelConfig.Load(modelDir);
        if (config.Fp8 is not null && layers is not (null or DType.F8E4M3))
            throw new ModelLoadException(Path.Combine(modelDir, "config.json"), null,
                $"a compressed-tensors FP8 checkpoint's layers are FP8 already; EngineOptions.WeightQuantization {layers} is not supported with it (use None or Fp8).");
        if (config.Gptq is not null && layers is not (null or DType.Int4))
            throw new ModelLoadException(Path.Combine(modelDir, "config.json"), null,
                $"a GPTQ checkpoint's layers are Int4 already; EngineOptions.WeightQuantization {layers} is not supported with it (use None or Int4).");
        var tensors = CheckpointTensors.Open(modelDir);
        try
        {
            tensors.CheckAgainst(config);
            return new LlamaModel(modelDir, config, tensors, layers, lmHead, hugePages);
        }
        catch { tensors.Dispose(); throw; }
    }

    /// <summary>Allocates a KV cache shaped for this model.</summary>
    public CpuKvCache CreateKvCache(int numBlocks, int blockSize) =>
        new(Config.NumLayers, numBlocks, blockSize, Config.NumKvHeads, Config.HeadDim);

    /// <summary>Bytes of KV cache one block takes across all layers.</summary>
    public long KvBytesPerBlock(int blockSize) =>
        CpuKvCache.BytesPerBlock(Config.NumLayers, blockSize, Config.NumKvHeads, Config.HeadDim);

    /// <summary>
    /// Runs one step: writes the new tokens' K/V into <paramref name="cache"/> and puts the logits of the last query
    /// token of each sequence into <paramref name="logits"/> ([NumSeqs, VocabSize]). Not thread-safe: one caller at a time.
    /// </summary>
    public void Forward(ForwardBatch batch, CpuKvCache cache, Span<float> logits)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(cache);
        var c = Config;
        batch.Validate(c.VocabSize, cache.NumBlocks, cache.BlockSize);
        if (logits.Length < batch.NumSeqs * c.VocabSize) throw new ArgumentException("logits is shorter than NumSeqs * VocabSize.", nameof(logits));
        int n = batch.NumTokens, h = c.HiddenSize, qDim = c.NumHeads * c.HeadDim, kvDim = c.NumKvHeads * c.HeadDim;
        // Sized once for the batch's capacity (MaxNumBatchedTokens in the engine), so no step ever reallocates.
        var s = _scratch is { } existing && existing.Tokens >= n ? existing : (_scratch = new Scratch(c, Math.Max(batch.MaxTokens, batch.MaxSeqs)));

        var hidden = s.Hidden.AsSpan(0, n * h);
        var x = s.X.AsSpan(0, n * h);
        var q = s.Q.AsSpan(0, n * qDim);
        var k = s.K.AsSpan(0, n * kvDim);
        var v = s.V.AsSpan(0, n * kvDim);
        var attn = s.Attn.AsSpan(0, n * qDim);
        var gate = s.Gate.AsSpan(0, n * c.IntermediateSize);
        var up = s.Up.AsSpan(0, n * c.IntermediateSize);
        ReadOnlySpan<int> positions = batch.Positions.AsSpan(0, n);
        ReadOnlySpan<int> queryStarts = batch.QueryStarts.AsSpan(0, batch.NumSeqs + 1);
        ReadOnlySpan<int> contextLens = batch.ContextLens.AsSpan(0, batch.NumSeqs);

        CpuOps.Embedding(batch.TokenIds.AsSpan(0, n), _embed, hidden);
        for (int l = 0; l < _layers.Length; l++)
        {
            var w = _layers[l];
            var kv = cache.Layer(l);
            CpuOps.RmsNorm(hidden, w.InputNorm, c.RmsNormEps, x);
            CpuOps.MatMul(x, n, w.Q, q);
            CpuOps.MatMul(x, n, w.K, k);
            CpuOps.MatMul(x, n, w.V, v);
            if (w.QBias is not null) { CpuOps.AddBias(q, w.QBias); CpuOps.AddBias(k, w.KBias); CpuOps.AddBias(v, w.VBias); }
            if (w.QNorm is not null) { CpuOps.RmsNorm(q, w.QNorm, c.RmsNormEps, q); CpuOps.RmsNorm(k, w.KNorm, c.RmsNormEps, k); }
            CpuOps.Rope(q, c.NumHeads, c.HeadDim, positions, _invFreq);
            CpuOps.Rope(k, c.NumKvHeads, c.HeadDim, positions, _invFreq);
            CpuOps.WriteKv(k, v, batch.SlotMapping.AsSpan(0, n), kv);
            CpuOps.PagedAttention(q, attn, c.NumHeads, queryStarts, contextLens, batch.BlockTables, batch.MaxBlocksPerSeq, kv, _scale);
            CpuOps.MatMul(attn, n, w.O, x);
            if (w.OBias is not null) CpuOps.AddBias(x, w.OBias);
            CpuOps.Add(x, hidden);

            CpuOps.RmsNorm(hidden, w.PostAttentionNorm, c.RmsNormEps, x);
            CpuOps.MatMul(x, n, w.Gate, gate);
            CpuOps.MatMul(x, n, w.Up, up);
            CpuOps.SiluMul(gate, up, gate);
            CpuOps.MatMul(gate, n, w.Down, x);
            CpuOps.Add(x, hidden);
        }

        // Only the last token of each sequence needs logits.
        int seqs = batch.NumSeqs;
        var last = s.Last.AsSpan(0, seqs * h);
        for (int i = 0; i < seqs; i++)
            hidden.Slice((queryStarts[i + 1] - 1) * h, h).CopyTo(last.Slice(i * h, h));
        CpuOps.RmsNorm(last, _finalNorm, c.RmsNormEps, last);
        CpuOps.MatMul(last, seqs, _lmHead, logits.Slice(0, seqs * c.VocabSize));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _tensors.Dispose();
        foreach (var q in _quantized) q.Dispose();
        _quantized.Clear();
    }

    private sealed class Scratch(ModelConfig c, int tokens)
    {
        public int Tokens { get; } = tokens;
        public float[] Hidden { get; } = new float[tokens * c.HiddenSize];
        public float[] X { get; } = new float[tokens * c.HiddenSize];
        public float[] Q { get; } = new float[tokens * c.NumHeads * c.HeadDim];
        public float[] K { get; } = new float[tokens * c.NumKvHeads * c.HeadDim];
        public float[] V { get; } = new float[tokens * c.NumKvHeads * c.HeadDim];
        public float[] Attn { get; } = new float[tokens * c.NumHeads * c.HeadDim];
        public float[] Gate { get; } = new float[tokens * c.IntermediateSize];
        public float[] Up { get; } = new float[tokens * c.IntermediateSize];
        public float[] Last { get; } = new float[tokens * c.HiddenSize];
    }
}
