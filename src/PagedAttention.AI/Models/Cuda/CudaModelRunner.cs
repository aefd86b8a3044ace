using PagedAttention.AI.Sampling;
using PagedAttention.Kernels;
using PagedAttention.Kernels.Cuda;

namespace PagedAttention.AI.Models.Cuda;

/// <summary>
/// The CUDA runner: <see cref="CudaLlamaModel"/> over a <see cref="CudaKvCache"/> sized from the GPU memory left
/// after the weights and a profiling step, sampling on the GPU (<see cref="CudaSampler"/>), CUDA graphs for decode steps.
/// </summary>
internal sealed class CudaModelRunner : IModelRunner, IDeviceSampler
{
    private const long GraphReserveBytes = 256L << 20;
    private readonly CudaLlamaModel _model;
    private readonly CudaDevice _device;
    private readonly CudaKvCache _cache;
    private readonly CudaSampler _sampler;

    private CudaModelRunner(CudaDevice device, CudaLlamaModel model, CudaKvCache cache)
    {
        _device = device;
        _model = model;
        _cache = cache;
        _sampler = new CudaSampler(device);
    }

    /// <summary>What <see cref="Create"/> measured while sizing the KV cache (bytes).</summary>
    public (long Total, long Weights, long Activations, long KvCache) Memory { get; private init; }

    /// <summary>
    /// Loads <paramref name="modelPath"/> onto GPU 0, runs one profiling step of <paramref name="maxNumBatchedTokens"/>
    /// tokens, and gives the KV cache <paramref name="numKvBlocks"/> blocks or else what
    /// <paramref name="gpuMemoryUtilization"/> of the GPU's memory leaves after weights, activations and other processes.
    /// <paramref name="switches"/> configure the device's cuBLAS, the kernels (cache directory, programmatic launch,
    /// attention variant) and the model's prefill kernel (the engine passes <see cref="RuntimeSwitches.FromEnvironment"/>).
    /// <paramref name="fp8KvCache"/> stores K/V as FP8 E4M3 (one byte per element: twice the blocks for the same bytes).
    /// </summary>
    /// <exception cref="NotSupportedException">No NVIDIA driver, GPU, NVRTC or cuBLAS; the message names what is missing.</exception>
    /// <exception cref="ArgumentException">The model does not fit with these options; the message gives the numbers.</exception>
    public static CudaModelRunner Create(string modelPath, int blockSize, int maxNumSeqs, int maxNumBatchedTokens, int maxModelLen,
        int? numKvBlocks, double gpuMemoryUtilization, bool cudaGraphs, RuntimeSwitches switches, bool fp8Layers = false, bool fp8KvCache = false)
    {
        ArgumentNullException.ThrowIfNull(switches);
        CheckCudaPresent();
        var device = CudaDevice.Open(switches);
        CudaLlamaModel? model = null;
        CudaKvCache? cache = null;
        try
        {
            long total = device.TotalMemory, free0 = device.FreeMemory;
            model = CudaLlamaModel.Load(modelPath, switches, device, fp8Layers, fp8KvCache);
            device.Synchronize();
            long free1 = device.FreeMemory, weights = free0 - free1;
            int maxLen = Math.Min(maxModelLen, model.Config.MaxPositionEmbeddings);
            int blocksPerSeq = (maxLen + blockSize - 1) / blockSize;
            model.ConfigureSteps(maxNumBatchedTokens, maxNumSeqs, blocksPerSeq, maxLen, cudaGraphs: false);
            Profile(model, blockSize, maxNumSeqs, maxNumBatchedTokens, maxLen, blocksPerSeq);
            device.Synchronize();
            long free2 = device.FreeMemory, activations = free1 - free2;
            long perBlock = model.KvBytesPerBlock(blockSize);
            long kvBytes = (long)(gpuMemoryUtilization * total) - (total - free2) - (cudaGraphs ? GraphReserveBytes : 0);
            int blocks;
            if (numKvBlocks is { } fixedBlocks) blocks = fixedBlocks;
            else
            {
                long b = KvBlocksFor(kvBytes, perBlock);
                if (b < blocksPerSeq)
                    throw new ArgumentException(
                        $"The model does not fit on {device.Name}: {gpuMemoryUtilization:0.##} x {Gib(total)} GiB = {Gib((long)(gpuMemoryUtilization * total))} GiB allowed; " +
                        $"weights take {Gib(weights)} GiB, activations for {maxNumBatchedTokens} batched tokens {Gib(activations)} GiB, other processes and the CUDA context {Gib(total - free0)} GiB" +
                        (cudaGraphs ? $", CUDA graphs {Gib(GraphReserveBytes)} GiB" : "") +
                        $", leaving {Gib(Math.Max(0, kvBytes))} GiB = {b} KV blocks of {perBlock / 1024.0:0.#} KiB; one sequence of MaxModelLen {maxLen} tokens needs {blocksPerSeq}. " +
                        "Raise EngineOptions.GpuMemoryUtilization, or lower MaxModelLen or MaxNumBatchedTokens.", "GpuMemoryUtilization");
                blocks = (int)Math.Min(b, int.MaxValue);
            }
            cache = model.CreateKvCache(blocks, blockSize);
            model.ConfigureSteps(maxNumBatchedTokens, maxNumSeqs, Math.Min(blocksPerSeq, blocks), maxLen, cudaGraphs);
            device.Synchronize();
            return new CudaModelRunner(device, model, cache) { Memory = (total, weights, activations, (long)blocks * perBlock), SwapCopyKernel = switches.SwapCopyKernel };
        }
        catch
        {
            cache?.Dispose();
            model?.Dispose();
            device.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Whole KV blocks of <paramref name="bytesPerBlock"/> in <paramref name="kvBytes"/> (0 when negative): with an FP8
    /// cache a block has half the bytes, so the same budget gives twice the blocks (up to one of rounding).
    /// </summary>
    internal static long KvBlocksFor(long kvBytes, long bytesPerBlock)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerBlock);
        return Math.Max(0, kvBytes) / bytesPerBlock;
    }

    private static string Gib(long bytes) => (bytes / (double)(1L << 30)).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Throws <see cref="NotSupportedException"/> naming the first missing piece of CUDA.</summary>
    public static void CheckCudaPresent()
    {
        const string prefix = "EngineOptions.Device = \"cuda\" needs an NVIDIA GPU with its driver (libcuda.so.1), NVRTC (libnvrtc.so.13, .12 or .11.2) and cuBLAS (libcublas.so.13 or .12)";
        if (CudaDevice.MissingComponent() is { } missing) throw new NotSupportedException($"{prefix}: {missing}.");
    }

    // One step of the largest size the engine may schedule: maxNumBatchedTokens tokens over up to maxNumSeqs
    // sequences, so every activation buffer is touched at its largest.
    private static void Profile(CudaLlamaModel model, int blockSize, int maxNumSeqs, int maxTokens, int maxLen, int blocksPerSeq)
    {
        int seqs = Math.Max(1, Math.Min(maxNumSeqs, maxTokens));
        int per = Math.Max(1, Math.Min(maxTokens / seqs, maxLen));
        int tokens = per * seqs, blocksEach = (per + blockSize - 1) / blockSize;
        var batch = new ForwardBatch(Math.Max(tokens, maxNumSeqs), Math.Max(seqs, maxNumSeqs), blocksPerSeq);
        using var cache = model.CreateKvCache(seqs * blocksEach, blockSize);
        int t = 0;
        for (int s = 0; s < seqs; s++)
        {
            batch.QueryStarts[s] = t;
            for (int j = 0; j < per; j++, t++)
            {
                batch.TokenIds[t] = (s * 31 + j) % model.Config.VocabSize;
                batch.Positions[t] = j;
                batch.SlotMapping[t] = (s * blocksEach + j / blockSize) * blockSize + j % blockSize;
            }
            batch.ContextLens[s] = per;
            for (int b = 0; b < blocksEach; b++) batch.BlockTables[s * blocksPerSeq + b] = s * blocksEach + b;
        }
        batch.QueryStarts[seqs] = t;
        batch.NumTokens = t;
        batch.NumSeqs = seqs;
        var ids = new int[seqs];
        model.ForwardGreedy(batch, cache, ids);
    }

    public IDecoderModel Model => _model;
    public string Device => "cuda";
    public int NumKvBlocks => _cache.NumBlocks;
    public int BlockSize => _cache.BlockSize;
    public IDeviceSampler? DeviceSampler => this;

    public void Forward(ForwardBatch batch, Span<float> logits)
    {
        _model.Forward(batch, _cache, logits);
        _swap?.PollCopyTimes();
    }

    public void ForwardSample(ForwardBatch batch, Span<int> tokens, Span<float> logits, ReadOnlySpan<int> logitRows)
    {
        _model.ForwardSample(batch, _cache, _sampler, tokens, logits, logitRows);
        _swap?.PollCopyTimes();
    }

    public void CopyBlocks(ReadOnlySpan<int> srcDst) => _cache.CopyBlocks(srcDst);

    public long KvBytesPerBlock => _cache.BytesPerBlockAllLayers;

    /// <summary>Whether the swap space copies with the kv_swap_copy kernel (<see cref="RuntimeSwitches.SwapCopyKernel"/>).</summary>
    private bool SwapCopyKernel { get; init; }

    private CudaSwapSpace? _swap; // page-locked host blocks and a copy stream (events order it against the compute stream)

    public void AllocateSwapSpace(int numBlocks)
    {
        if (_swap is not null) throw new InvalidOperationException("The swap space is allocated once.");
        if (numBlocks > 0) _swap = new CudaSwapSpace(_device, _cache, numBlocks, SwapCopyKernel ? _model.Kernels : null);
    }

    public void SwapOut(ReadOnlySpan<int> deviceHost) => Swap.SwapOut(deviceHost);

    public void SwapIn(ReadOnlySpan<int> hostDevice) => Swap.SwapIn(hostDevice);

    private CudaSwapSpace Swap => _swap ?? throw new InvalidOperationException("No swap space was allocated.");

    // Copies queued before a step ran before it (the compute stream waits on them), so after each completed step the
    // swap space reads the timing events of all but the copies queued since.
    public double? SwapCopySeconds => _swap?.CopySeconds ?? 0;

    public bool CanLaunchAsync => true;

    public void LaunchSample(ForwardBatch batch) => _model.LaunchSample(batch, _cache, _sampler);

    public void WaitSample(Span<int> tokens)
    {
        _model.WaitSample(tokens);
        _swap?.PollCopyTimes();
    }

    public void Begin(int rows) => _sampler.Begin(rows);

    public void SetRow(int row, in SamplingRow p, ulong key, int step, ReadOnlySpan<int> prompt, ReadOnlySpan<int> output, ReadOnlySpan<int> endTokenIds) =>
        _sampler.SetRow(row, p, key, step, prompt, output, endTokenIds);

    public void SetConstraint(int row, ITokenConstraint constraint) => _sampler.SetConstraint(row, constraint, _model.Config.VocabSize);

    public void Dispose()
    {
        _swap?.Dispose();
        _sampler.Dispose();
        _cache.Dispose();
        _model.Dispose();
        _device.Dispose();
    }
}
