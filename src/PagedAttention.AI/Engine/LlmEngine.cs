using System.Runtime.CompilerServices;
using PagedAttention.AI.Models;
using PagedAttention.AI.Sampling;
using PagedAttention.Kernels.Cpu;

namespace PagedAttention.AI.Engine;

/// <summary>
/// Runs a model and streams generated tokens. This first version serves one request at a time, greedy only;
/// KV lives in a paged cache addressed through block tables from the start.
/// </summary>
public sealed class LlmEngine : IAsyncDisposable
{
    private readonly LlamaModel _model;
    private readonly CpuKvCache _cache;
    private readonly EngineOptions _options;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly int _maxModelLen;
    private bool _disposed;

    private LlmEngine(LlamaModel model, EngineOptions options)
    {
        _model = model;
        _options = options;
        _maxModelLen = Math.Min(options.MaxModelLen ?? int.MaxValue, model.Config.MaxPositionEmbeddings);
        int blocks = options.NumKvBlocks ?? (int)Math.Clamp(options.KvCacheBytes / model.KvBytesPerBlock(options.BlockSize), 1, int.MaxValue);
        _cache = model.CreateKvCache(blocks, options.BlockSize);
    }

    /// <summary>The loaded model.</summary>
    public LlamaModel Model => _model;

    /// <summary>Longest prompt + output a request may have.</summary>
    public int MaxModelLen => _maxModelLen;

    /// <summary>Loads the model named by <paramref name="options"/>.</summary>
    /// <exception cref="ModelLoadException">The model directory cannot be loaded.</exception>
    public static async Task<LlmEngine> LoadAsync(EngineOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Device == "cuda") throw new NotSupportedException("Device \"cuda\" is not available in this build; use \"cpu\".");
        var model = await Task.Run(() => LlamaModel.Load(options.ModelPath), cancellationToken).ConfigureAwait(false);
        try { return new LlmEngine(model, options); }
        catch { model.Dispose(); throw; }
    }

    /// <summary>Generates a continuation of <paramref name="promptIds"/>, one output per token.</summary>
    public async IAsyncEnumerable<GenerationOutput> GenerateAsync(int[] promptIds, SamplingParams samplingParams, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(samplingParams);
        samplingParams.Validate();
        if (promptIds.Length == 0) throw new ArgumentException("The prompt is empty.", nameof(promptIds));
        if (samplingParams.Temperature != 0) throw new NotSupportedException("Only greedy decoding (Temperature = 0) is available in this version.");
        int vocab = _model.Config.VocabSize;
        foreach (int id in promptIds)
            if ((uint)id >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(promptIds), id, $"Token id {id} is outside the vocabulary of {vocab}.");
        if (promptIds.Length >= _maxModelLen) throw new ArgumentException($"The prompt has {promptIds.Length} tokens; the model accepts at most {_maxModelLen - 1} before generating.", nameof(promptIds));

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            int total = Math.Min(promptIds.Length + samplingParams.MaxTokens, _maxModelLen);
            int bs = _cache.BlockSize, blocks = (total + bs - 1) / bs;
            if (blocks > _cache.NumBlocks) throw new InvalidOperationException($"The request needs {blocks} KV blocks but the cache has {_cache.NumBlocks}; raise EngineOptions.KvCacheBytes or NumKvBlocks.");
            var batch = new ForwardBatch(Math.Max(promptIds.Length, 1), 1, blocks);
            for (int b = 0; b < blocks; b++) batch.BlockTables[b] = b;
            var logits = new float[vocab];
            var eos = _model.Config.EosTokenIds;
            int pos = 0, produced = 0;
            ReadOnlyMemory<int> input = promptIds;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = input.Length;
                batch.NumSeqs = 1;
                batch.NumTokens = n;
                batch.QueryStarts[0] = 0;
                batch.QueryStarts[1] = n;
                batch.ContextLens[0] = pos + n;
                for (int i = 0; i < n; i++)
                {
                    batch.TokenIds[i] = input.Span[i];
                    batch.Positions[i] = pos + i;
                    batch.SlotMapping[i] = pos + i;
                }
                _model.Forward(batch, _cache, logits);
                pos += n;
                int token = ArgMax(logits);
                produced++;
                bool stop = produced >= samplingParams.MinTokens && !samplingParams.IgnoreEos && eos.Contains(token)
                    || produced >= samplingParams.MinTokens && samplingParams.StopTokenIds.Contains(token);
                bool length = produced >= samplingParams.MaxTokens || pos + 1 >= _maxModelLen;
                FinishReason? reason = stop ? FinishReason.Stop : length ? FinishReason.Length : null;
                yield return new GenerationOutput(token, produced - 1, reason);
                if (reason is not null) yield break;
                input = new[] { token };
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            _disposed = true;
            _cache.Dispose();
            _model.Dispose();
        }
        finally { _gate.Release(); }
    }
}
