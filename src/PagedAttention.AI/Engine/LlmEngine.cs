using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PagedAttention.AI.KvCache;
using PagedAttention.AI.Models;
using PagedAttention.AI.Sampling;
using PagedAttention.AI.Scheduling;
using PagedAttention.Text.Templates;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.AI.Engine;

/// <summary>
/// Runs a model for many concurrent requests. One step-loop thread owns the scheduler, the paged KV cache and the
/// model: each step it schedules a token budget over running and waiting sequences (continuous batching, chunked
/// prefill, prefix-cache reuse, preemption by recompute), runs one forward pass over the flat batch, samples and
/// streams the new tokens. Requests arrive through a thread-safe queue and stream back through per-request channels.
/// </summary>
public sealed class LlmEngine : IAsyncDisposable, IDisposable
{
    /// <summary>Most top logprobs a request may ask for.</summary>
    public const int MaxLogprobs = 20;

    private readonly IModelRunner _runner;
    private readonly EngineOptions _options;
    private readonly Func<IStreamingDetokenizer>? _detokenizerFactory;
    private readonly ILogger _logger;
    private readonly Scheduler _scheduler;
    private readonly Sampler _sampler;
    private readonly ForwardBatch _batch;
    private readonly float[] _logits;
    private readonly int[] _deviceTokens;
    private readonly int[] _logitRows; // rows of this step sampled on the host (their logits come back), ascending
    private int _numLogitRows;
    private readonly PendingOutput[] _pending;
    private readonly List<Sequence> _pendingStops;
    private int _numPending;
    private readonly bool _overlap;
    private readonly SchedulerOutput[] _outputs;
    private readonly bool[] _inflightSamples;
    private SchedulerOutput? _inflight;
    private int _nextOutput;
    private readonly ConcurrentQueue<RequestState> _inbox = new();
    private readonly ConcurrentQueue<RequestState> _aborts = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _thread;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly IReadOnlyList<int> _eos;
    private readonly int _vocab;
    private long _nextRequestId;
    private volatile bool _stopping;
    private int _disposed;
    private long _steps, _computedTokens, _generatedTokens, _busyTicks, _forwardTicks, _stepAllocatedBytes, _channelAllocatedBytes;
    private volatile Exception? _loopFailure;

    private LlmEngine(IModelRunner runner, EngineOptions options, ModelAssets assets)
    {
        _runner = runner;
        Tokenizer = assets.Tokenizer;
        ChatTemplate = assets.ChatTemplate;
        ModelId = assets.ModelId;
        _detokenizerFactory = options.DetokenizerFactory ?? (assets.Tokenizer is null ? null
            : StreamingDecoderDetokenizer.Factory(assets.Tokenizer, skipSpecialTokens: true, keepSpecialTokens: ModelAssets.StructuralTokens));
        _options = options;
        _logger = options.Logger ?? NullLogger.Instance;
        var c = runner.Model.Config;
        _vocab = c.VocabSize;
        _eos = c.EosTokenIds;
        MaxModelLen = Math.Min(options.MaxModelLen ?? int.MaxValue, c.MaxPositionEmbeddings);
        int blocks = runner.NumKvBlocks;
        var kv = new KvCacheManager(blocks, options.BlockSize);
        _scheduler = new Scheduler(new SchedulerOptions
        {
            MaxNumBatchedTokens = options.MaxNumBatchedTokens,
            MaxNumSeqs = options.MaxNumSeqs,
            LongPrefillTokenThreshold = options.LongPrefillTokenThreshold,
            KvCacheOptionName = KvOptionName,
        }, kv, _eos, _logger);
        _sampler = new Sampler(_vocab);
        int maxBlocksPerSeq = Math.Min(kv.BlocksFor(MaxModelLen), blocks);
        _batch = new ForwardBatch(options.MaxNumBatchedTokens, options.MaxNumSeqs, maxBlocksPerSeq);
        _logits = new float[options.MaxNumSeqs * _vocab];
        _deviceTokens = new int[options.MaxNumSeqs];
        _logitRows = new int[options.MaxNumSeqs];
        _pending = new PendingOutput[options.MaxNumSeqs];
        _pendingStops = new List<Sequence>(options.MaxNumSeqs);
        // PAGEDATTENTION_OVERLAP=0: deliver outputs before the forward instead of while the device computes (for A/B runs).
        _overlap = runner.CanLaunchAsync && Environment.GetEnvironmentVariable("PAGEDATTENTION_OVERLAP") != "0";
        _outputs = [new SchedulerOutput(options.MaxNumSeqs), new SchedulerOutput(options.MaxNumSeqs)];
        _inflightSamples = new bool[options.MaxNumSeqs];
        _thread = new Thread(Loop) { IsBackground = true, Name = "PagedAttention step loop" };
        _thread.Start();
    }

    /// <summary>The loaded model.</summary>
    public IDecoderModel Model => _runner.Model;

    /// <summary>The device the model runs on: "cpu" or "cuda".</summary>
    public string Device => _runner.Device;

    private string KvOptionName => _runner.Device == "cuda" ? "EngineOptions.GpuMemoryUtilization (or NumKvBlocks)" : "EngineOptions.KvCacheBytes (or NumKvBlocks)";

    /// <summary>Longest prompt + output a request may have.</summary>
    public int MaxModelLen { get; }

    /// <summary>The model's tokenizer (tokenizer.json in the model directory), or null when there is none.</summary>
    public Tokenizer? Tokenizer { get; }

    /// <summary>The model's chat template (tokenizer_config.json or chat_template.jinja), or null when there is none.</summary>
    public ChatTemplate? ChatTemplate { get; }

    /// <summary>The model id: the model directory's name.</summary>
    public string ModelId { get; }

    /// <summary>Number of KV blocks in the cache.</summary>
    public int NumKvBlocks => _runner.NumKvBlocks;

    /// <summary>
    /// Test/debug hook: the loop checks the scheduler's and block pool's invariants after every step and whenever it
    /// goes idle (O(blocks + sequences), allocates). A violation fails the loop like any engine bug (<see cref="LoopFailure"/>).
    /// </summary>
    internal bool VerifyInvariants { get; set; }

    /// <summary>The exception that stopped the step loop (an engine bug), or null while it runs.</summary>
    internal Exception? LoopFailure => _loopFailure;

    /// <summary>Bytes the loop thread allocated between its waits (admission, scheduling, forward, sampling, emission) since start.</summary>
    internal long StepAllocatedBytes => Interlocked.Read(ref _stepAllocatedBytes);

    /// <summary>Of <see cref="StepAllocatedBytes"/>, bytes allocated by writes to the requests' output channels.</summary>
    internal long ChannelAllocatedBytes => Interlocked.Read(ref _channelAllocatedBytes);

    /// <summary>Loads the model named by <paramref name="options"/> and starts the step loop.</summary>
    /// <exception cref="ModelLoadException">The model directory cannot be loaded.</exception>
    public static async Task<LlmEngine> LoadAsync(EngineOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var (runner, assets) = await Task.Run(() =>
        {
            var r = CreateRunner(options);
            try { return (r, ModelAssets.Load(options.ModelPath)); }
            catch { r.Dispose(); throw; }
        }, cancellationToken).ConfigureAwait(false);
        try { return new LlmEngine(runner, options, assets); }
        catch { runner.Dispose(); throw; }
    }

    /// <summary>An engine over a given runner (tests: e.g. a host runner that launches asynchronously).</summary>
    internal static LlmEngine Create(IModelRunner runner, EngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return new LlmEngine(runner, options, ModelAssets.Load(options.ModelPath));
    }

    private static IModelRunner CreateRunner(EngineOptions o)
    {
        if (o.Device == "cuda")
        {
            // Fail before touching the GPU when CUDA is missing, naming what is missing; a bad directory fails the same way as on the CPU.
            Models.Cuda.CudaModelRunner.CheckCudaPresent();
            return Models.Cuda.CudaModelRunner.Create(o.ModelPath, o.BlockSize, o.MaxNumSeqs, o.MaxNumBatchedTokens, o.MaxModelLen ?? int.MaxValue,
                o.NumKvBlocks, o.GpuMemoryUtilization, cudaGraphs: !o.EnforceEager, PagedAttention.Kernels.RuntimeSwitches.FromEnvironment());
        }
        var m = LlamaModel.Load(o.ModelPath);
        try { return new CpuModelRunner(m, o.NumKvBlocks ?? CpuModelRunner.BlocksFor(m, o.KvCacheBytes, o.BlockSize), o.BlockSize); }
        catch { m.Dispose(); throw; }
    }

    /// <summary>
    /// Generates continuations of <paramref name="promptIds"/>: one output per token, for each of the n sequences.
    /// A bad request (empty or too long prompt, token id outside the vocabulary, invalid parameters) throws from the
    /// first MoveNextAsync and affects no other request. Cancelling <paramref name="cancellationToken"/> or disposing
    /// the enumerator early aborts the request; its KV blocks are freed at the next step.
    /// </summary>
    public async IAsyncEnumerable<GenerationOutput> GenerateAsync(int[] promptIds, SamplingParams samplingParams, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(samplingParams);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        var req = CreateRequest(promptIds, samplingParams);
        _inbox.Enqueue(req);
        _wake.Set();
        // Lost race with DisposeAsync (or a dead loop): the loop may never see this request.
        if (_disposed != 0) req.Channel.Writer.TryComplete(new ObjectDisposedException(nameof(LlmEngine)));
        else if (_loopFailure is { } failure) req.Channel.Writer.TryComplete(new InvalidOperationException("The engine's step loop has failed.", failure));
        bool completed = false;
        using var registration = cancellationToken.Register(static s => ((LlmEngine)((object[])s!)[0]).Abort((RequestState)((object[])s!)[1]), new object[] { this, req });
        try
        {
            var reader = req.Channel.Reader;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                while (reader.TryRead(out var output))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    yield return output;
                }
            completed = true;
        }
        finally
        {
            if (!completed) Abort(req);
        }
    }

    /// <summary>A snapshot of load and counters. Safe from any thread; values may be one step apart.</summary>
    public EngineMetrics GetMetrics()
    {
        var kv = _scheduler.Kv;
        long busy = Interlocked.Read(ref _busyTicks), generated = Interlocked.Read(ref _generatedTokens);
        return new EngineMetrics
        {
            Running = _scheduler.NumRunning,
            Waiting = _scheduler.NumWaiting + _inbox.Count,
            KvBlocksTotal = kv.Pool.NumBlocks,
            KvBlocksFree = kv.Pool.NumFree,
            KvBlocksCached = kv.Pool.NumCached,
            PrefixQueryTokens = kv.PrefixQueryTokens,
            PrefixHitTokens = kv.PrefixHitTokens,
            Preemptions = _scheduler.NumPreemptions,
            Steps = Interlocked.Read(ref _steps),
            ComputedTokens = Interlocked.Read(ref _computedTokens),
            GeneratedTokens = generated,
            BusySeconds = busy / (double)Stopwatch.Frequency,
            ForwardSeconds = Interlocked.Read(ref _forwardTicks) / (double)Stopwatch.Frequency,
            GeneratedTokensPerSecond = busy == 0 ? 0 : generated / (busy / (double)Stopwatch.Frequency),
        };
    }

    private RequestState CreateRequest(int[] promptIds, SamplingParams p)
    {
        p.Validate();
        if (promptIds.Length == 0) throw new ArgumentException("The prompt is empty.", nameof(promptIds));
        foreach (int id in promptIds)
            if ((uint)id >= (uint)_vocab) throw new ArgumentOutOfRangeException(nameof(promptIds), id, $"Token id {id} is outside the vocabulary of {_vocab}.");
        foreach (int id in p.StopTokenIds)
            if ((uint)id >= (uint)_vocab) throw new ArgumentException($"Stop token id {id} is outside the vocabulary of {_vocab}.", nameof(p));
        if (promptIds.Length >= MaxModelLen)
            throw new ArgumentException($"The prompt has {promptIds.Length} tokens; the model accepts at most {MaxModelLen - 1} before generating (MaxModelLen {MaxModelLen}).", nameof(promptIds));
        if (p.Logprobs > MaxLogprobs) throw new ArgumentException($"Logprobs must be <= {MaxLogprobs}, got {p.Logprobs}.", nameof(p));
        if (p.N > _options.MaxNumSeqs) throw new ArgumentException($"N = {p.N} exceeds EngineOptions.MaxNumSeqs = {_options.MaxNumSeqs}.", nameof(p));
        if (p.StopStrings.Count > 0 && _detokenizerFactory is null)
            throw new ArgumentException("StopStrings need a detokenizer: the model directory has no tokenizer.json and EngineOptions.DetokenizerFactory is not set.", nameof(p));
        int total = (int)Math.Min((long)promptIds.Length + p.MaxTokens, MaxModelLen);
        int needed = _scheduler.Kv.BlocksFor(total);
        if (needed > _runner.NumKvBlocks)
            throw new ArgumentException($"The request needs up to {needed} KV blocks ({total} tokens) but the cache has {_runner.NumKvBlocks}; raise {KvOptionName.Replace(" (or NumKvBlocks)", " or NumKvBlocks", StringComparison.Ordinal)}, or lower MaxTokens.", nameof(p));

        long id2 = Interlocked.Increment(ref _nextRequestId);
        var req = new RequestState(id2);
        var root = _options.EnablePrefixCaching ? BlockHash.Root(p.CacheSalt) : BlockHash.Private(id2);
        long seed = p.Seed ?? Random.Shared.NextInt64();
        var seqs = new Sequence[p.N];
        for (int i = 0; i < p.N; i++)
        {
            var detok = _detokenizerFactory?.Invoke();
            var stops = p.StopStrings.Count > 0 ? new StopStringMatcher(p.StopStrings) : null;
            seqs[i] = new Sequence(id2, i, promptIds, p, root, total, _options.BlockSize)
            {
                Owner = new SequenceState(req, new SamplingRng(seed, i), detok, stops, p.Logprobs),
            };
        }
        req.Sequences = seqs;
        req.Remaining = seqs.Length;
        return req;
    }

    private void Abort(RequestState req)
    {
        if (!req.TryRequestAbort()) return;
        _aborts.Enqueue(req);
        _wake.Set();
    }

    private void Loop()
    {
        try
        {
            while (!_stopping)
            {
                // Everything the loop thread does between waits is measured: admissions, aborts, steps, emission.
                long allocated = GC.GetAllocatedBytesForCurrentThread();
                while (_inbox.TryDequeue(out var req))
                    foreach (var seq in req.Sequences) _scheduler.Add(seq);
                while (_aborts.TryDequeue(out var req)) EndRequest(req, null);
                if (!_scheduler.HasWork && _inflight is null)
                {
                    // Nothing to overlap with: deliver the last step's tokens now.
                    DeliverPending();
                    FinishPendingStops();
                    Interlocked.Add(ref _stepAllocatedBytes, GC.GetAllocatedBytesForCurrentThread() - allocated);
                    if (VerifyInvariants) _scheduler.CheckInvariants();
                    _wake.WaitOne();
                    continue;
                }
                long start = Stopwatch.GetTimestamp();
                Step();
                Interlocked.Add(ref _stepAllocatedBytes, GC.GetAllocatedBytesForCurrentThread() - allocated);
                Interlocked.Add(ref _busyTicks, Stopwatch.GetTimestamp() - start);
                if (VerifyInvariants) _scheduler.CheckInvariants();
            }
            Drain();
            DeliverPending(); // tokens computed before the stop still reach their callers
        }
        catch (Exception ex)
        {
            // Only a bug in the engine itself lands here; fail everything rather than hang the callers.
            _loopFailure = ex;
            _logger.LogError(ex, "The engine step loop failed; all pending requests are failed.");
            FailAll(ex);
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    private void Step()
    {
        if (_overlap) StepPipelined();
        else StepSync();
    }

    // One step, start to finish (CPU, or when overlap is off). Delivering the previous step's outputs (detokenizing,
    // stop strings, channel writes) runs just before the forward pass.
    private void StepSync()
    {
        var output = _scheduler.Schedule();
        if (output.Count == 0)
        {
            DeliverPending();
            FinishPendingStops();
            return;
        }
        BatchBuilder.Build(output, _batch, _options.BlockSize);
        RunSync(output);
    }

    // Forward + sampling of a built step, waiting for it, then accepting its tokens.
    // rowsSet: the caller already set the device sampler rows (and the host rows in _logitRows).
    private void RunSync(SchedulerOutput output, bool rowsSet = false)
    {
        bool onDevice = _runner.DeviceSampler is not null;
        try
        {
            if (onDevice && !rowsSet) SetSamplerRows(output);
            long forwardStart = Stopwatch.GetTimestamp();
            long delivered = DeliverPending();
            if (onDevice) _runner.ForwardSample(_batch, _deviceTokens, _logits, _logitRows.AsSpan(0, _numLogitRows));
            else _runner.Forward(_batch, _logits);
            Interlocked.Add(ref _forwardTicks, Stopwatch.GetTimestamp() - forwardStart - delivered);
        }
        catch (Exception ex)
        {
            FailStep(output, ex);
            return;
        }
        CommitFinishedStep(output);
        for (int i = 0; i < output.Count; i++)
        {
            var seq = output.Seq(i);
            if (seq.IsFinished || seq.NumComputedTokens != seq.NumTokens) continue; // mid-prompt chunk: nothing to sample
            var state = (SequenceState)seq.Owner!;
            AcceptToken(seq, state, _logits.AsSpan(i * _vocab, _vocab), onDevice && state.TopLogprobs.Length == 0 ? _deviceTokens[i] : -1);
        }
    }

    // One turn of the pipeline on an asynchronous device: step N is in flight. Its bookkeeping is committed and its
    // sampled tokens stand as placeholders, so step N+1 is scheduled and flattened, and step N-1's outputs are
    // delivered, while the GPU computes step N. Then: wait for N, resolve the placeholders (stop rules, freeing what
    // finished), patch N+1's input ids, set its sampler rows and launch it. A sequence that finished at step N also
    // sits in step N+1; that row's result is ignored (vLLM's async scheduling makes the same trade). The GPU runs its
    // steps in stream order, so blocks freed while a step is in flight are only ever rewritten by later steps.
    private void StepPipelined()
    {
        var n = _inflight;
        if (n is not null)
        {
            _scheduler.CommitStep(n);
            CountStep(n);
            for (int i = 0; i < n.Count; i++)
                if (_inflightSamples[i] && n.Seq(i).Status == SequenceStatus.Running) n.Seq(i).AppendPlaceholder();
        }
        var next = _outputs[_nextOutput];
        _nextOutput ^= 1;
        _scheduler.Schedule(next);
        if (next.Count > 0) BatchBuilder.Build(next, _batch, _options.BlockSize);

        if (n is not null)
        {
            long waitStart = Stopwatch.GetTimestamp();
            long delivered = DeliverPending(); // step N-1's outputs, while the GPU computes step N
            try { _runner.WaitSample(_deviceTokens); }
            catch (Exception ex)
            {
                _inflight = null;
                FailStep(n, ex); // n's sequences end; the others of next are scheduled again next turn
                return;
            }
            finally { Interlocked.Add(ref _forwardTicks, Stopwatch.GetTimestamp() - waitStart - delivered); }
            _inflight = null;
            FinishPendingStops();
            AcceptDeviceTokens(n, resolve: true);
        }
        else
        {
            DeliverPending();
            FinishPendingStops();
        }
        if (next.Count == 0) return;

        // Decode rows of N+1 read the token N sampled: its id is known now.
        for (int i = 0; i < next.Count; i++)
        {
            int q = _batch.QueryStarts[i];
            if (next.NumTokens(i) == 1 && _batch.TokenIds[q] == Sequence.Placeholder)
            {
                var seq = next.Seq(i);
                _batch.TokenIds[q] = seq.HasPlaceholder ? 0 : seq.LastToken; // 0: a finished sequence's ignored row
            }
        }
        bool hostRows;
        long launchStart = Stopwatch.GetTimestamp();
        try
        {
            hostRows = SetSamplerRows(next);
            if (!hostRows)
            {
                for (int i = 0; i < next.Count; i++) _inflightSamples[i] = !next.Seq(i).IsFinished && next.Samples(i);
                _runner.LaunchSample(_batch);
                _inflight = next;
            }
        }
        catch (Exception ex)
        {
            FailStep(next, ex);
            return;
        }
        finally { Interlocked.Add(ref _forwardTicks, Stopwatch.GetTimestamp() - launchStart); }
        if (hostRows) RunSync(next, rowsSet: true); // logprobs need this step's logits on the host: no overlap for it
    }

    // Device sampler rows for a step, and in _logitRows the rows that must be sampled on the host (logprobs); true
    // when there are any.
    private bool SetSamplerRows(SchedulerOutput output)
    {
        var ds = _runner.DeviceSampler!;
        // Only token ids come back, except for rows the GPU sampler cannot serve (logprobs): then this step's logits too.
        ds.Begin(output.Count);
        _numLogitRows = 0;
        for (int i = 0; i < output.Count; i++)
        {
            var seq = output.Seq(i);
            if (seq.IsFinished || seq.NumComputedTokens + output.NumTokens(i) != seq.NumTokens) continue;
            var st = (SequenceState)seq.Owner!;
            if (st.TopLogprobs.Length > 0)
            {
                _logitRows[_numLogitRows++] = i;
                continue;
            }
            var keyRng = st.Rng; // a copy: the sequence's stream key, never advanced for GPU-sampled rows
            ds.SetRow(i, seq.Params, keyRng.NextUInt64(), seq.NumOutputTokens, seq.PromptTokens, seq.OutputTokens, _eos);
        }
        return _numLogitRows > 0;
    }

    // The whole step is lost: fail its requests, keep serving the others.
    private void FailStep(SchedulerOutput output, Exception ex)
    {
        _logger.LogError(ex, "A forward pass failed; the {Count} requests in that step are failed.", output.Count);
        for (int i = 0; i < output.Count; i++) EndRequest(((SequenceState)output.Seq(i).Owner!).Request, ex);
        DeliverPending();
        FinishPendingStops();
    }

    private void CountStep(SchedulerOutput output)
    {
        Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _computedTokens, output.TotalTokens);
    }

    // Waits for the step in flight, if any, and takes its tokens (before stopping; no placeholders were appended).
    private void Drain()
    {
        if (_inflight is not { } n) return;
        _inflight = null;
        try { _runner.WaitSample(_deviceTokens); }
        catch (Exception ex)
        {
            FailStep(n, ex);
            return;
        }
        CommitFinishedStep(n);
        AcceptDeviceTokens(n, resolve: false);
    }

    // A step the device has finished whose bookkeeping was not committed yet (synchronous steps, the drain at stop).
    private void CommitFinishedStep(SchedulerOutput output)
    {
        FinishPendingStops();
        _scheduler.CommitStep(output);
        CountStep(output);
    }

    // Takes the device-sampled tokens of the step that was in flight (rows that sampled, sequences still alive).
    private void AcceptDeviceTokens(SchedulerOutput n, bool resolve)
    {
        for (int i = 0; i < n.Count; i++)
        {
            if (!_inflightSamples[i]) continue;
            var seq = n.Seq(i);
            if (seq.IsFinished || seq.HasPlaceholder != resolve) continue;
            AcceptToken(seq, (SequenceState)seq.Owner!, default, _deviceTokens[i], resolve);
        }
    }

    // resolve: the token replaces the placeholder appended while its step was in flight. A failure here (sampling,
    // stop rules) fails only this sequence's request.
    private void AcceptToken(Sequence seq, SequenceState state, Span<float> logits, int deviceToken = -1, bool resolve = false)
    {
        try { AcceptTokenCore(seq, state, logits, deviceToken, resolve); }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Request {RequestId} failed while sampling.", seq.RequestId);
            EndRequest(state.Request, ex);
        }
    }

    private void AcceptTokenCore(Sequence seq, SequenceState state, Span<float> logits, int deviceToken, bool resolve)
    {
        var p = seq.Params;
        float logprob = float.NaN;
        int token = deviceToken >= 0 ? deviceToken
            : _sampler.Sample(logits, p, seq.PromptTokens, seq.OutputTokens, ref state.Rng, _eos, state.TopLogprobs, out logprob);
        var reason = resolve ? _scheduler.ResolvePlaceholder(seq, token) : _scheduler.AppendToken(seq, token);
        Interlocked.Increment(ref _generatedTokens);
        _pending[_numPending++] = new PendingOutput(seq, token, seq.NumOutputTokens - 1, reason, seq.NumCachedTokens, logprob,
            state.TopLogprobs.Length > 0 ? (TokenLogprob[])state.TopLogprobs.Clone() : null);
        if (reason is not null) _scheduler.Finish(seq, reason);
    }

    // Turns the accepted tokens into outputs: text, stop strings, the request's channel. Returns the ticks it took.
    private long DeliverPending()
    {
        if (_numPending == 0) return 0;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < _numPending; i++)
        {
            var o = _pending[i];
            _pending[i] = default;
            var state = (SequenceState)o.Seq.Owner!;
            if (state.Request.Done) continue; // aborted or failed meanwhile
            try { Deliver(o, state); }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Request {RequestId} failed while delivering its output.", o.Seq.RequestId);
                EndRequest(state.Request, ex);
            }
        }
        _numPending = 0;
        return Stopwatch.GetTimestamp() - start;
    }

    private void Deliver(in PendingOutput o, SequenceState state)
    {
        var reason = o.Reason;
        string? text = null;
        if (state.Detokenizer is { } detok)
        {
            // An eos or stop token ends the text; it is not rendered itself.
            text = reason == FinishReason.Stop ? string.Empty : detok.Append(o.Token);
            if (state.Stops is { } stops)
            {
                text = stops.Push(text, out bool stopped);
                if (stopped)
                {
                    // Not finished yet: still scheduled, it ends once the step in flight is done.
                    if (reason is null) _pendingStops.Add(o.Seq);
                    reason = FinishReason.Stop;
                }
                else if (reason is not null) text += detok.Flush() is { Length: > 0 } rest ? stops.Push(rest, out _) + stops.Flush() : stops.Flush();
            }
            else if (reason is not null) text += detok.Flush();
        }
        var output = new GenerationOutput(o.Token, o.Index, reason)
        {
            SequenceIndex = o.Seq.Index,
            TextDelta = text,
            CachedTokens = o.CachedTokens,
            Logprob = o.Logprob,
            TopLogprobs = o.TopLogprobs,
        };
        var req = state.Request;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        req.Channel.Writer.TryWrite(output);
        _channelAllocatedBytes += GC.GetAllocatedBytesForCurrentThread() - allocated;
        if (reason is null) return;
        if (--req.Remaining == 0 && !req.Done)
        {
            req.Done = true;
            CompleteChannel(req, null);
        }
    }

    // Completing a channel wakes its reader through the thread pool; when the pool's global queue is backed up
    // (a busy process) that enqueue may grow the queue by a segment (~4.6 KB). That is the hand-off's cost, not the
    // step's, so it is counted with the channel writes.
    private void CompleteChannel(RequestState req, Exception? error)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        req.Channel.Writer.TryComplete(error);
        _channelAllocatedBytes += GC.GetAllocatedBytesForCurrentThread() - allocated;
    }

    // Sequences whose stop string showed up while a step that includes them was in flight: ended now that it is done.
    private void FinishPendingStops()
    {
        foreach (var seq in _pendingStops) _scheduler.Finish(seq, FinishReason.Stop);
        _pendingStops.Clear();
    }

    private readonly record struct PendingOutput(Sequence Seq, int Token, int Index, FinishReason? Reason, int CachedTokens, float Logprob, TokenLogprob[]? TopLogprobs);

    // Ends a request early: aborted (error null) or failed. Frees its blocks now.
    private void EndRequest(RequestState req, Exception? error)
    {
        if (req.Done) return;
        req.Done = true;
        foreach (var seq in req.Sequences) _scheduler.Finish(seq, null);
        CompleteChannel(req, error);
    }

    private void FailAll(Exception ex)
    {
        while (_inbox.TryDequeue(out var req)) EndRequest(req, ex);
        foreach (var seq in _scheduler.Running.Concat(_scheduler.Waiting).ToList())
            EndRequest(((SequenceState)seq.Owner!).Request, ex);
    }

    /// <summary>Stops the step loop, fails requests still pending with <see cref="ObjectDisposedException"/>, and frees the cache and model.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping = true;
        _wake.Set();
        await _stopped.Task.ConfigureAwait(false);
        FailAll(new ObjectDisposedException(nameof(LlmEngine), "The engine was disposed while the request was running."));
        _runner.Dispose();
        // _wake is not disposed: a late consumer's abort may still Set it.
    }

    /// <summary>Stops the step loop and releases the model and cache (blocks until the current step ends).</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
