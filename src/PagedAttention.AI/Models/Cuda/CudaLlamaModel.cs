using PagedAttention.Kernels;
using PagedAttention.Kernels.Cuda;

namespace PagedAttention.AI.Models.Cuda;

/// <summary>
/// The Llama-family decoder (Llama, Mistral, Qwen2, Qwen3) on an NVIDIA GPU, with the contract of
/// <see cref="LlamaModel.Forward"/>: weights in bf16 (f32/f16 checkpoints rounded at load), merged QKV and gate|up
/// GEMMs through cuBLAS with fp32 accumulation and bf16 outputs (as transformers' bf16 Linear rounds them), an fp32
/// residual stream (the O and down projections write fp32 deltas), and a bf16 paged KV cache.
/// With FP8 layers (<see cref="Fp8Layers"/>: an FP8 checkpoint, or EngineOptions.WeightQuantization Fp8) every
/// decoder-layer GEMM is W8A8: E4M3 weights with a scale per output row, activations quantized per token to E4M3 by
/// the kernel before the GEMM (fused into the add-RMSNorm and SiLU·mul kernels), cuBLASLt FP8 with fp32 accumulation;
/// the embedding, the LM head, attention and the KV cache stay as in bf16.
/// With an FP8 KV cache (<see cref="Fp8KvCache"/>, EngineOptions.KvCacheDtype Fp8E4M3) K and V are stored as E4M3
/// codes with per-layer scales (<see cref="KvCacheScales"/>) and read by the FP8 attention kernels; everything else
/// is unchanged.
/// Not thread-safe: one caller at a time (the engine's step loop).
/// </summary>
internal sealed class CudaLlamaModel : IDecoderModel, IDisposable
{
    private readonly CudaDevice _device;
    private readonly bool _ownsDevice;
    private readonly CudaKernels _kernels;

    /// <summary>The model's kernel module (the swap space launches its copy kernel from it).</summary>
    internal CudaKernels Kernels => _kernels;
    private readonly DeviceBuffer _embed;
    private readonly DeviceBuffer? _lmHead;
    private readonly DeviceBuffer _finalNorm;
    private readonly DeviceBuffer _invFreq;
    private readonly CudaLayer[] _layers;
    private readonly float _scale;
    private CudaStepBuffers? _buffers;

    private readonly KvScales[] _kvScales;

    private CudaLlamaModel(string dir, ModelConfig config, CudaDevice device, bool ownsDevice, RuntimeSwitches switches, bool fp8Layers, bool fp8KvCache)
    {
        Directory = dir;
        Config = config;
        _device = device;
        _ownsDevice = ownsDevice;
        var layers = new List<CudaLayer>();
        using var tensors = CheckpointTensors.Open(dir);
        try
        {
            tensors.CheckAgainst(config);
            _kvScales = KvCacheScales.Read(tensors, config);
            Fp8KvCache = fp8KvCache;
            _kernels = new CudaKernels(device, config.HeadDim, config.NumHeads / config.NumKvHeads, switches);
            var embed = tensors.Matrix("model.embed_tokens.weight", config.VocabSize, config.HiddenSize);
            _embed = CudaWeights.Matrix(device, embed);
            _lmHead = config.TieWordEmbeddings && !tensors.Contains("lm_head.weight")
                ? null
                : CudaWeights.Matrix(device, tensors.Matrix("lm_head.weight", config.VocabSize, config.HiddenSize));
            _finalNorm = CudaWeights.Vector(device, tensors.Vector("model.norm.weight", config.HiddenSize));
            _invFreq = CudaWeights.Vector(device, config.Rope.InverseFrequencies(config.HeadDim));
            Fp8Layers = fp8Layers || config.Fp8 is not null;
            if (Fp8Layers) CheckFp8(device, config, dir);
            for (int l = 0; l < config.NumLayers; l++) layers.Add(UploadLayer(device, tensors, config, l));
            _layers = [.. layers];
        }
        catch
        {
            foreach (var l in layers) l.Dispose();
            _kernels?.Dispose();
            _embed?.Dispose();
            _lmHead?.Dispose();
            _finalNorm?.Dispose();
            _invFreq?.Dispose();
            throw;
        }
        _scale = 1f / MathF.Sqrt(config.HeadDim);
        TensorCorePrefill = switches.TensorCorePrefill;
        FastPrefill = switches.FastPrefill;
    }

    /// <summary>The model directory.</summary>
    public string Directory { get; }

    /// <summary>Whether the decoder layers' GEMMs are FP8 W8A8 (see the class summary).</summary>
    public bool Fp8Layers { get; }

    /// <summary>Whether <see cref="CreateKvCache"/> makes FP8 E4M3 caches by default (see the class summary).</summary>
    public bool Fp8KvCache { get; }

    /// <summary>The FP8 KV cache's scales of <paramref name="layer"/> (1 where the checkpoint has none).</summary>
    public KvScales KvScalesOf(int layer) => _kvScales[layer];

    private CudaLayer UploadLayer(CudaDevice device, CheckpointTensors tensors, ModelConfig config, int layer)
    {
        if (!Fp8Layers) return CudaLayer.Upload(device, LayerWeights.Load(tensors, config, layer), null);
        // An FP8 checkpoint's layers are read as codes + scales (Fp8Reader: shapes, scales and NaN codes checked);
        // float layers (a bf16 checkpoint, or modules a checkpoint left unquantized) are quantized on the device.
        var readers = new List<Fp8Reader>();
        try
        {
            var w = LayerWeights.Load(tensors, config, layer, (name, rows, cols) =>
            {
                if (config.Fp8 is { } f8 && tensors.Contains(name + ".weight") && tensors.Info(name + ".weight").DTypeName == "F8_E4M3")
                {
                    var r = Fp8Reader.Read(tensors, name, rows, cols, f8);
                    readers.Add(r);
                    return r.Matrix;
                }
                return tensors.Matrix(name + ".weight", rows, cols);
            });
            return CudaLayer.Upload(device, w, _kernels);
        }
        finally
        {
            foreach (var r in readers) r.Dispose(); // the scales were copied to the device
        }
    }

    // FP8 tensor-core GEMMs take k in multiples of 16 and need sm_89+ with a cuBLASLt that has per-row scales.
    private static void CheckFp8(CudaDevice device, ModelConfig c, string dir)
    {
        if (device.Blas.Fp8Unsupported() is { } why)
            throw new NotSupportedException($"FP8 weights need FP8 tensor cores: {why}. Use WeightQuantization None (bf16) on this GPU.");
        int qDim = c.NumHeads * c.HeadDim;
        foreach (var (name, k) in new[] { ("hidden_size", c.HiddenSize), ("num_attention_heads × head_dim", qDim), ("intermediate_size", c.IntermediateSize) })
            if (k % 16 != 0)
                throw new ModelLoadException(Path.Combine(dir, "config.json"), null,
                    $"FP8 weights on the GPU need GEMM inner dimensions that are multiples of 16; {name} is {k}.");
    }

    /// <summary>The parsed configuration.</summary>
    public ModelConfig Config { get; }

    /// <summary>The GPU the model lives on.</summary>
    public CudaDevice Device => _device;

    /// <summary>The NVRTC target the kernels were built for (e.g. sm_90a).</summary>
    public string KernelArch => _kernels.Arch;

    /// <summary>Bytes of weights on the device (what one decode step reads at least once).</summary>
    public long WeightBytes =>
        _embed.Bytes + (_lmHead?.Bytes ?? 0) + _layers.Sum(l => l.LinearBytes);

    /// <summary>
    /// Loads a Hugging Face model directory onto <paramref name="device"/> (which the caller keeps owning), or onto
    /// device 0 when null (then owned and disposed by the model, and opened with <paramref name="switches"/>).
    /// <paramref name="switches"/> also set the kernels' options and the initial <see cref="TensorCorePrefill"/> and
    /// <see cref="FastPrefill"/>. With <paramref name="fp8Layers"/> a float checkpoint's decoder layers are quantized to
    /// FP8 at load (W8A8); an FP8 checkpoint always has FP8 layers. With <paramref name="fp8KvCache"/> the KV caches
    /// it creates hold FP8 E4M3 codes.
    /// </summary>
    /// <exception cref="ModelLoadException">The directory is missing, corrupt or unsupported.</exception>
    /// <exception cref="Kernels.Cuda.Interop.CudaException">No usable CUDA device or library, or a CUDA call failed.</exception>
    /// <exception cref="NotSupportedException">FP8 layers were asked for on a GPU without FP8 tensor cores.</exception>
    public static CudaLlamaModel Load(string modelDir, RuntimeSwitches switches, CudaDevice? device = null, bool fp8Layers = false, bool fp8KvCache = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDir);
        ArgumentNullException.ThrowIfNull(switches);
        if (!System.IO.Directory.Exists(modelDir)) throw new ModelLoadException(modelDir, null, "model directory not found.");
        var config = ModelConfig.Load(modelDir);
        ModelConfig.RejectCpuOnlyFormatsOn("cuda", config, modelDir);
        bool owns = device is null;
        var d = device ?? CudaDevice.Open(switches);
        try { return new CudaLlamaModel(modelDir, config, d, owns, switches, fp8Layers, fp8KvCache); }
        catch { if (owns) d.Dispose(); throw; }
    }

    /// <summary>
    /// Allocates a device KV cache shaped for this model, FP8 E4M3 when <paramref name="fp8"/> (null:
    /// <see cref="Fp8KvCache"/>). Either kind works with every forward method (the GPU checks compare both).
    /// </summary>
    public CudaKvCache CreateKvCache(int numBlocks, int blockSize, bool? fp8 = null) =>
        new(_device, Config.NumLayers, numBlocks, blockSize, Config.NumKvHeads, Config.HeadDim, fp8 ?? Fp8KvCache);

    /// <summary>Bytes of KV cache one block takes across all layers (bf16, or FP8: half).</summary>
    public long KvBytesPerBlock(int blockSize) =>
        CudaKvCache.BytesPerBlock(Config.NumLayers, blockSize, Config.NumKvHeads, Config.HeadDim, CudaKvCache.ElementBytesOf(Fp8KvCache));

    /// <summary>
    /// Runs one step: writes the new tokens' K/V into <paramref name="cache"/> and puts the logits of the last query
    /// token of each sequence into <paramref name="logits"/> ([NumSeqs, VocabSize]).
    /// </summary>
    public void Forward(ForwardBatch batch, CudaKvCache cache, Span<float> logits)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (logits.Length < batch.NumSeqs * Config.VocabSize) throw new ArgumentException("logits is shorter than NumSeqs * VocabSize.", nameof(logits));
        var b = Run(batch, cache);
        CopyLogits(b, batch.NumSeqs, logits);
    }

    /// <summary>
    /// Runs one step like <see cref="Forward"/> and picks each sequence's next token greedily on the GPU: only the
    /// ids ([NumSeqs]) come back to the host.
    /// </summary>
    public void ForwardGreedy(ForwardBatch batch, CudaKvCache cache, Span<int> tokenIds)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (tokenIds.Length < batch.NumSeqs) throw new ArgumentException("tokenIds is shorter than NumSeqs.", nameof(tokenIds));
        var b = Run(batch, cache);
        _kernels.Argmax(b.Logits.Ptr, b.Ids.Ptr, batch.NumSeqs, Config.VocabSize);
        b.Staging.CopyFromDeviceAsync(b.Ids.Ptr, batch.NumSeqs * 4L);
        _device.Synchronize();
        b.Staging.AsSpan<int>(0, batch.NumSeqs).CopyTo(tokenIds);
    }

    /// <summary>
    /// Runs one step and samples each sequence's next token on the GPU with <paramref name="sampler"/> (whose rows
    /// the caller filled for this batch): only the ids come back. When <paramref name="logits"/> is not empty it also
    /// receives the raw logits ([NumSeqs, VocabSize], before penalties), for the host to sample rows the GPU cannot.
    /// </summary>
    internal void ForwardSample(ForwardBatch batch, CudaKvCache cache, CudaSampler sampler, Span<int> tokenIds, Span<float> logits, ReadOnlySpan<int> logitRows)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(sampler);
        int seqs = batch.NumSeqs, vocab = Config.VocabSize;
        if (tokenIds.Length < seqs) throw new ArgumentException("tokenIds is shorter than NumSeqs.", nameof(tokenIds));
        for (int i = 0; i < logitRows.Length; i++)
            if ((uint)logitRows[i] >= (uint)seqs || (i > 0 && logitRows[i] <= logitRows[i - 1]))
                throw new ArgumentException("logitRows must be ascending rows below NumSeqs.", nameof(logitRows));
        if (logitRows.Length > 0 && logits.Length < seqs * vocab) throw new ArgumentException("logits is shorter than NumSeqs * VocabSize.", nameof(logits));
        var b = Run(batch, cache);
        if (logitRows.Length > 0)
        {
            // One copy per run of consecutive rows, each into its rows' place in the staging buffer.
            long rowBytes = (long)vocab * 4;
            for (int i = 0; i < logitRows.Length;)
            {
                int first = logitRows[i], count = 1;
                while (i + count < logitRows.Length && logitRows[i + count] == first + count) count++;
                b.Staging.CopyFromDeviceAsync(b.Logits.Ptr + (ulong)(first * rowBytes), count * rowBytes, first * rowBytes);
                i += count;
            }
            _device.Synchronize();
            foreach (int row in logitRows)
                b.Staging.AsSpan<float>(row * rowBytes, vocab).CopyTo(logits.Slice(row * vocab, vocab));
        }
        sampler.Launch(_kernels, b.Logits.Ptr, vocab, b.Ids.Ptr, seqs);
        b.Staging.CopyFromDeviceAsync(b.Ids.Ptr, seqs * 4L);
        _device.Synchronize();
        b.Staging.AsSpan<int>(0, seqs).CopyTo(tokenIds);
    }

    /// <summary>
    /// Queues one step and its GPU sampling like <see cref="ForwardSample"/> (without host logits) and returns without
    /// waiting, so the caller can do host work while the GPU computes; <see cref="WaitSample"/> then gives the ids.
    /// </summary>
    internal void LaunchSample(ForwardBatch batch, CudaKvCache cache, CudaSampler sampler)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(sampler);
        if (_pendingSeqs > 0) throw new InvalidOperationException("The previous LaunchSample was not waited for.");
        var b = Run(batch, cache);
        int seqs = batch.NumSeqs;
        sampler.Launch(_kernels, b.Logits.Ptr, Config.VocabSize, b.Ids.Ptr, seqs);
        b.Staging.CopyFromDeviceAsync(b.Ids.Ptr, seqs * 4L);
        _pendingSeqs = seqs;
    }

    /// <summary>Waits for the step <see cref="LaunchSample"/> queued and copies its token ids ([NumSeqs]).</summary>
    internal void WaitSample(Span<int> tokenIds)
    {
        int seqs = _pendingSeqs;
        if (seqs == 0) throw new InvalidOperationException("No LaunchSample is pending.");
        if (tokenIds.Length < seqs) throw new ArgumentException("tokenIds is shorter than NumSeqs.", nameof(tokenIds));
        _pendingSeqs = 0;
        _device.Synchronize();
        _buffers!.Staging.AsSpan<int>(0, seqs).CopyTo(tokenIds);
    }

    private int _pendingSeqs;

    private void CopyLogits(CudaStepBuffers b, int seqs, Span<float> logits)
    {
        int count = seqs * Config.VocabSize;
        b.Staging.CopyFromDeviceAsync(b.Logits.Ptr, count * 4L);
        _device.Synchronize();
        b.Staging.AsSpan<float>(0, count).CopyTo(logits);
    }

    /// <summary>
    /// Allocates the step buffers once for the largest step the engine will run, and turns CUDA graphs for decode steps
    /// on or off. With graphs, a decode-only step (one token per sequence) is padded to the next batch size in
    /// 1, 2, 4, 8, … (capped at <paramref name="maxSeqs"/>) and replayed from a graph captured on its first use;
    /// prefill and mixed steps launch eagerly.
    /// </summary>
    public void ConfigureSteps(int maxTokens, int maxSeqs, int maxBlocksPerSeq, int maxContext, bool cudaGraphs)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxSeqs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBlocksPerSeq);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxContext);
        DisposeGraphs();
        _device.MakeCurrent();
        _buffers?.Dispose();
        _buffers = null;
        _buffers = new CudaStepBuffers(_device, Config, Math.Max(maxTokens, maxSeqs), maxSeqs, maxBlocksPerSeq, Fp8Layers);
        // The largest split-KV workspace any step of at most maxTokens tokens can ask for, allocated now so that its
        // address is stable for the graphs.
        long ws = 0;
        for (int t = 1; t <= Math.Min(_buffers.Tokens, 4 * _device.MultiprocessorCount); t++)
            ws = Math.Max(ws, _kernels.AttentionWorkspaceBytes(t, Config.NumHeads, _kernels.PlanSplits(t, Config.NumKvHeads, maxContext)));
        if (ws > 0) _buffers.AttentionWorkspace = _device.Allocate(ws);
        UseCudaGraphs = cudaGraphs;
    }

    /// <summary>
    /// Whether kernels launch with programmatic dependent launch (on by default on Hopper; see
    /// <see cref="CudaKernels.ProgrammaticLaunch"/>). Changing it drops the captured graphs, which embed the launch mode.
    /// </summary>
    public bool ProgrammaticLaunch
    {
        get => _kernels.ProgrammaticLaunch;
        set
        {
            if (value == _kernels.ProgrammaticLaunch) return;
            _kernels.ProgrammaticLaunch = value; // throws where unsupported
            DisposeGraphs();
        }
    }

    /// <summary>Whether decode steps replay CUDA graphs (see <see cref="ConfigureSteps"/>).</summary>
    public bool UseCudaGraphs { get; private set; }

    private readonly Dictionary<(int Batch, int Splits, int TableStride), CudaGraph> _graphs = [];
    private CudaKvCache? _graphCache;

    private static int PadBatch(int seqs, int max)
    {
        int p = 1;
        while (p < seqs) p <<= 1;
        return Math.Min(p, max);
    }

    private CudaStepBuffers Run(ForwardBatch batch, CudaKvCache cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        var c = Config;
        if (cache.NumLayers != c.NumLayers || cache.NumKvHeads != c.NumKvHeads || cache.HeadDim != c.HeadDim)
            throw new ArgumentException("The KV cache was not made for this model.", nameof(cache));
        batch.Validate(c.VocabSize, cache.NumBlocks, cache.BlockSize);
        _device.MakeCurrent();
        int n = batch.NumTokens, seqs = batch.NumSeqs;
        if (_buffers is null || !_buffers.Fits(n, seqs, batch.MaxBlocksPerSeq))
        {
            DisposeGraphs(); // they point into the old buffers
            int tokens = Math.Max(n, _buffers?.Tokens ?? 0);
            _buffers?.Dispose();
            _buffers = null; // a failed allocation below must not leave a disposed set behind
            _buffers = new CudaStepBuffers(_device, c, tokens, Math.Max(seqs, batch.MaxSeqs), batch.MaxBlocksPerSeq, Fp8Layers);
        }
        var b = _buffers;
        int stride = b.TableStride(batch, cache.BlockSize);
        int maxCtx = 0, maxQuery = 0;
        bool hasDecodeRows = false;
        for (int s = 0; s < seqs; s++)
        {
            int ql = batch.QueryStarts[s + 1] - batch.QueryStarts[s];
            maxCtx = Math.Max(maxCtx, batch.ContextLens[s]);
            maxQuery = Math.Max(maxQuery, ql);
            hasDecodeRows |= ql == 1;
        }

        if (UseCudaGraphs && n == seqs)
        {
            int padded = PadBatch(seqs, b.Seqs);
            if (padded <= b.Tokens)
            {
                int gSplits = _kernels.PlanSplits(padded, c.NumKvHeads, maxCtx);
                if (EnsureWorkspace(b, padded, gSplits))
                {
                    if (!ReferenceEquals(_graphCache, cache)) { DisposeGraphs(); _graphCache = cache; }
                    b.StagePadded(batch, padded, stride);
                    if (_graphs.TryGetValue((padded, gSplits, stride), out var graph)) graph.Launch();
                    else
                    {
                        // First use of this shape: run it eagerly (which also loads every kernel and cuBLAS algorithm
                        // it needs), then capture the same launches for the next steps.
                        Launch(b, cache, padded, padded, gSplits, stride);
                        _graphs[(padded, gSplits, stride)] = _device.Capture(() => Launch(b, cache, padded, padded, gSplits, stride));
                    }
                    return b;
                }
            }
        }

        b.Stage(batch, stride);
        int splits = _kernels.PlanSplits(n, c.NumKvHeads, maxCtx);
        if (!EnsureWorkspace(b, n, splits))
        {
            DisposeGraphs();
            b.AttentionWorkspace?.Dispose();
            b.AttentionWorkspace = null;
            b.AttentionWorkspace = _device.Allocate(_kernels.AttentionWorkspaceBytes(n, c.NumHeads, splits));
        }
        Launch(b, cache, n, seqs, splits, stride, maxQuery, hasDecodeRows);
        return b;
    }

    private bool EnsureWorkspace(CudaStepBuffers b, int tokens, int splits) =>
        _kernels.AttentionWorkspaceBytes(tokens, Config.NumHeads, splits) <= (b.AttentionWorkspace?.Bytes ?? 0);

    // maxBlocksPerSeq: the row stride of the staged block table (CudaStepBuffers.TableStride).
    private void Launch(CudaStepBuffers b, CudaKvCache cache, int n, int seqs, int splits, int maxBlocksPerSeq, int maxQuery = 1, bool hasDecodeRows = true)
    {
        // Rows of sequences with a query length > 1 (prefill/append) run on the tensor-core prefill kernel; decode rows
        // (one query token) always keep the split-KV decode kernel, so a decode row gives the same result whatever else
        // is in the step. Decode-only steps (and graphs) launch only the decode kernel.
        bool tiled = maxQuery > 1 && TensorCorePrefill && _kernels.SupportsPrefillAttention;
        var c = Config;
        int h = c.HiddenSize, qDim = c.NumHeads * c.HeadDim, qkvDim = qDim + 2 * c.NumKvHeads * c.HeadDim, inter = c.IntermediateSize;
        var blas = new SmallBatchGemm(_device.Blas, SmallBatchGemv ? _kernels : null);
        _kernels.Embedding(b.TokenIds, _embed.Ptr, b.Hidden.Ptr, n, h);
        var fp8 = new Fp8Gemm(_device.Blas, _kernels, b);
        for (int l = 0; l < _layers.Length; l++)
        {
            var w = _layers[l];
            // The previous layer's MLP output joins the residual here, fused with this layer's input norm.
            if (Fp8Layers)
            {
                fp8.NormQuantize(b.Hidden.Ptr, l == 0 ? 0 : b.Delta.Ptr, 0, w.InputNorm.Ptr, n, h, c.RmsNormEps);
                fp8.Gemm(w.Qkv, b.Qkv.Ptr, n, outputF32: false);
            }
            else
            {
                _kernels.FusedAddRmsNorm(b.Hidden.Ptr, l == 0 ? 0 : b.Delta.Ptr, 0, w.InputNorm.Ptr, b.X.Ptr, 0, n, h, c.RmsNormEps);
                blas.Gemm(b.X.Ptr, w.Qkv.Weights.Ptr, b.Qkv.Ptr, n, qkvDim, h, outputF32: false);
            }
            KvScales? kv = cache.IsFp8 ? _kvScales[l] : null; // null: the bf16 kernels
            _kernels.RopeQkvWrite(b.Qkv.Ptr, CudaWeights.Ptr(w.QkvBias), CudaWeights.Ptr(w.QNorm), CudaWeights.Ptr(w.KNorm), _invFreq.Ptr,
                b.Positions, b.Slots, b.Q.Ptr, cache.Keys(l), cache.Values(l), n, c.NumHeads, c.NumKvHeads, cache.BlockSize, c.RmsNormEps, kv);
            if (!tiled || hasDecodeRows)
                _kernels.PagedAttention(b.Q.Ptr, b.X.Ptr, cache.Keys(l), cache.Values(l), b.QueryStarts, b.ContextLens, b.BlockTables,
                    n, seqs, c.NumHeads, c.NumKvHeads, cache.BlockSize, maxBlocksPerSeq, _scale, splits, b.AttentionWorkspace?.Ptr ?? 0, skipPrefill: tiled, kv);
            if (tiled)
                _kernels.PrefillAttention(b.Q.Ptr, b.X.Ptr, cache.Keys(l), cache.Values(l), b.QueryStarts, b.ContextLens, b.BlockTables,
                    seqs, maxQuery, c.NumHeads, c.NumKvHeads, cache.BlockSize, maxBlocksPerSeq, _scale, !FastPrefill, skipDecode: true, kv);
            if (Fp8Layers)
            {
                fp8.Quantize(b.X.Ptr, n, qDim);
                fp8.Gemm(w.O, b.Delta.Ptr, n, outputF32: true);
                fp8.NormQuantize(b.Hidden.Ptr, b.Delta.Ptr, CudaWeights.Ptr(w.OBias), w.PostAttentionNorm.Ptr, n, h, c.RmsNormEps);
                fp8.Gemm(w.GateUp, b.GateUp.Ptr, n, outputF32: false);
                fp8.SiluMulQuantize(b.GateUp.Ptr, n, inter);
                fp8.Gemm(w.Down, b.Delta.Ptr, n, outputF32: true);
                continue;
            }
            blas.Gemm(b.X.Ptr, w.O.Weights.Ptr, b.Delta.Ptr, n, h, qDim);
            _kernels.FusedAddRmsNorm(b.Hidden.Ptr, b.Delta.Ptr, CudaWeights.Ptr(w.OBias), w.PostAttentionNorm.Ptr, b.X.Ptr, 0, n, h, c.RmsNormEps);
            blas.Gemm(b.X.Ptr, w.GateUp.Weights.Ptr, b.GateUp.Ptr, n, 2 * inter, h, outputF32: false);
            _kernels.SiluMul(b.GateUp.Ptr, b.Act.Ptr, n, inter);
            blas.Gemm(b.Act.Ptr, w.Down.Weights.Ptr, b.Delta.Ptr, n, h, inter);
        }
        // Last MLP output + final norm, only for each sequence's last token (row QueryStarts[s + 1] - 1).
        _kernels.FusedAddRmsNorm(b.Hidden.Ptr, b.Delta.Ptr, 0, _finalNorm.Ptr, b.Last.Ptr, b.QueryStarts + 4, seqs, h, c.RmsNormEps);
        blas.Gemm(b.Last.Ptr, (_lmHead ?? _embed).Ptr, b.Logits.Ptr, seqs, c.VocabSize, h);
    }

    /// <summary>
    /// Whether steps with prefill/append rows use the tiled tensor-core attention kernel (prefill_attention.cu) instead
    /// of the decode kernel (which re-reads K/V once per query token). On by default;
    /// <see cref="RuntimeSwitches.TensorCorePrefill"/> (PAGEDATTENTION_PREFILL_KERNEL=0) turns it off at load (debugging
    /// fallback). Ignored where the kernel is unsupported (head size 256, pre-sm_80).
    /// </summary>
    public bool TensorCorePrefill { get; set; }

    /// <summary>
    /// Whether the prefill kernel rounds q and the probabilities to bf16 once (FlashAttention's precision, about 2x
    /// faster) instead of splitting them into bf16 hi + lo parts (the default: prefill rows then match the fp32 decode
    /// kernel up to the bf16 output rounding, which keeps "decode step = prefill" checks tight).
    /// <see cref="RuntimeSwitches.FastPrefill"/> (PAGEDATTENTION_PREFILL_FAST=1) sets it at load.
    /// </summary>
    public bool FastPrefill { get; set; }

    /// <summary>
    /// Whether steps of at most 4 rows use the custom GEMV kernel instead of cuBLAS. Off by default: on the H100 it was
    /// not faster (579 vs 592 tok/s at batch 1, 1B shape, with graphs) and, because its reduction order differs from
    /// cuBLAS's, a sequence decoded alone (GEMV) could differ from the same sequence in a batch (cuBLAS).
    /// </summary>
    public bool SmallBatchGemv { get; set; }

    private readonly struct SmallBatchGemm(CudaBlas blas, CudaKernels? kernels)
    {
        public void Gemm(ulong x, ulong w, ulong y, int m, int n, int k, bool outputF32 = true)
        {
            // The GEMV kernel writes fp32 only.
            if (outputF32 && kernels is not null && m <= CudaKernels.GemvMaxRows && k % 8 == 0) kernels.Gemv(x, w, y, m, n, k);
            else blas.Gemm(x, w, y, m, n, k, outputF32);
        }
    }

    // W8A8 for one step: the kernels write each GEMM input as E4M3 codes + a scale per row into the step's FP8
    // activation buffers, and the GEMM reads them with the layer's codes and per-row scales.
    private readonly struct Fp8Gemm(CudaBlas blas, CudaKernels kernels, CudaStepBuffers b)
    {
        private ulong Codes => b.ActCodes!.Ptr;
        private ulong Scales => b.ActScales!.Ptr;

        public void NormQuantize(ulong residual, ulong delta, ulong bias, ulong weight, int n, int h, float eps) =>
            kernels.FusedAddRmsNormFp8(residual, delta, bias, weight, Codes, Scales, n, h, eps);

        public void Quantize(ulong input, int n, int d) => kernels.QuantizeRowsFp8(input, Codes, Scales, n, d);

        public void SiluMulQuantize(ulong gateUp, int n, int inter) => kernels.SiluMulFp8(gateUp, Codes, Scales, n, inter);

        public void Gemm(CudaLinear w, ulong y, int n, bool outputF32) =>
            blas.GemmFp8(Codes, Scales, w.Weights.Ptr, w.Scales!.Ptr, y, n, w.Rows, w.Cols, outputF32);
    }

    private void DisposeGraphs()
    {
        foreach (var g in _graphs.Values) g.Dispose();
        _graphs.Clear();
        _graphCache = null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        DisposeGraphs();
        _buffers?.Dispose();
        foreach (var l in _layers) l.Dispose();
        _embed.Dispose();
        _lmHead?.Dispose();
        _finalNorm.Dispose();
        _invFreq.Dispose();
        _kernels.Dispose();
        if (_ownsDevice) _device.Dispose();
    }
}
