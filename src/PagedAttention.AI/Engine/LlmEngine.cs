using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PagedAttention.AI.KvCache;
using PagedAttention.AI.Models;
using PagedAttention.AI.Observability;
using PagedAttention.AI.Sampling;
using PagedAttention.AI.Scheduling;
using PagedAttention.Kernels;
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
    private readonly GuardedLogger _logger;
    private readonly EngineCore _core;
    private readonly IStepStrategy _strategy;
    private readonly RequestFactory _requests;
    private readonly EngineCounters _counters = new();
    private readonly ConcurrentQueue<RequestState> _inbox = new();
    private readonly ConcurrentQueue<RequestState> _aborts = new();
    private readonly ConcurrentQueue<PrefixPin> _unpins = new();
    private readonly bool _prefixCaching;
    private readonly int _blockSize;
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _thread;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;
    private int _disposed;
    private volatile Exception? _loopFailure;
    private readonly IDisposable _instruments;
    private readonly EngineStatsLogger? _statsLogger;
    private readonly string _modelName;
    private long _promptTokens;

    /// <summary>Bytes of one KV block across all layers in the backend's cache (its element size: CPU fp32, CUDA bf16 or FP8).</summary>
    internal long KvBytesPerBlock => _runner.KvBytesPerBlock;

    private LlmEngine(IModelRunner runner, EngineOptions options, Tokenizer? tokenizer, RuntimeSwitches switches)
    {
        _runner = runner;
        Tokenizer = tokenizer;
        ConfiguredDetokenizer = options.DetokenizerFactory;
        _logger = new GuardedLogger(options.Logger ?? NullLogger.Instance);
        _prefixCaching = options.EnablePrefixCaching;
        _blockSize = options.BlockSize;
        var c = runner.Model.Config;
        MaxModelLen = Math.Min(options.MaxModelLen ?? int.MaxValue, c.MaxPositionEmbeddings);
        MaxNumSeqs = options.MaxNumSeqs;
        int blocks = runner.NumKvBlocks;
        string kvOption = runner.Device == "cuda" ? "EngineOptions.GpuMemoryUtilization (or NumKvBlocks)" : "EngineOptions.KvCacheBytes (or NumKvBlocks)";
        _requests = new RequestFactory(options, c.VocabSize, c.EosTokenIds, MaxModelLen, blocks, kvOption, EngineLoader.DefaultDetokenizer(options, tokenizer));
        // Swap space: host blocks of the device's block size (0: preemption recomputes).
        long bytesPerBlock = runner.KvBytesPerBlock;
        int hostBlocks = (int)Math.Min(options.SwapSpaceBytes / bytesPerBlock, EngineOptions.NumKvBlocksLimit);
        int tierBlocks = (int)Math.Min(options.HostCacheBytes / bytesPerBlock, EngineOptions.NumKvBlocksLimit);
        runner.AllocateSwapSpace(hostBlocks + tierBlocks); // one host region: the swap space, then the prefix cache's host tier
        var kv = new KvCacheManager(blocks, options.BlockSize, hostBlocks, tierBlocks);
        var scheduler = new Scheduler<EngineSequence>(new SchedulerOptions
        {
            MaxNumBatchedTokens = options.MaxNumBatchedTokens,
            MaxNumSeqs = options.MaxNumSeqs,
            LongPrefillTokenThreshold = options.LongPrefillTokenThreshold,
            KvCacheOptionName = kvOption,
            // Until measured: ~4 GB/s memcpy and 5k prefill tokens/s on a CPU; ~20 GB/s pinned PCIe copies and 50k tokens/s on a GPU.
            Preemption = hostBlocks > 0
                ? runner.Device == "cuda" ? new PreemptionPolicy(bytesPerBlock, options.PreemptionMode, 2e10, 5e4) : new PreemptionPolicy(bytesPerBlock, options.PreemptionMode)
                : null,
        }, kv, _logger);
        int maxBlocksPerSeq = Math.Min(kv.BlocksFor(MaxModelLen), blocks);
        _core = new EngineCore(runner, scheduler, options, maxBlocksPerSeq, _counters, _logger);
        // Overlap off (PAGEDATTENTION_OVERLAP=0): deliver outputs before the forward instead of while the device computes (A/B runs).
        bool overlap = runner.CanLaunchAsync && switches.Overlap;
        _strategy = overlap ? new PipelinedStep(_core, options.MaxNumSeqs) : new SyncStep(_core);
        _modelName = Path.GetFileName(runner.Model.Directory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        _instruments = EngineInstruments.Register(_modelName, Gauges);
        if (options.Logger is not null && options.StatsLogInterval > TimeSpan.Zero)
            _statsLogger = new EngineStatsLogger(_logger, Gauges, options.StatsLogInterval);
        _thread = new Thread(Loop) { IsBackground = true, Name = "PagedAttention step loop" };
        _thread.Start();
    }

    /// <summary>The loaded model.</summary>
    public IDecoderModel Model => _runner.Model;

    /// <summary>The device the model runs on: "cpu" or "cuda".</summary>
    public string Device => _runner.Device;

    /// <summary>Longest prompt + output a request may have.</summary>
    public int MaxModelLen { get; }

    /// <summary>The model's tokenizer (tokenizer.json in the model directory), or null when there is none.</summary>
    public Tokenizer? Tokenizer { get; }

    /// <summary>The detokenizer the host configured (<see cref="EngineOptions.DetokenizerFactory"/>); it wins over the chat client's own.</summary>
    internal Func<IStreamingDetokenizer>? ConfiguredDetokenizer { get; }

    /// <summary>Most sequences the engine runs at once (<see cref="EngineOptions.MaxNumSeqs"/>).</summary>
    internal int MaxNumSeqs { get; }

    /// <summary>Number of KV blocks in the cache.</summary>
    public int NumKvBlocks => _runner.NumKvBlocks;

    /// <summary>
    /// Test/debug hook: the loop checks the scheduler's and block pool's invariants after every step and whenever it
    /// goes idle (O(blocks + sequences), allocates). A violation fails the loop like any engine bug (<see cref="LoopFailure"/>).
    /// </summary>
    internal bool VerifyInvariants { get; set; }

    /// <summary>Called on the loop thread after every step with the scheduler (tests and measurements: block accounting).</summary>
    internal Action<Scheduler<EngineSequence>>? AfterStep { get; set; }

    /// <summary>The host's logger behind the engine's guard (the chat client logs its warnings there too).</summary>
    internal Microsoft.Extensions.Logging.ILogger Logger => _logger;

    /// <summary>Whether <see cref="DisposeAsync"/> has begun (the health check reports it).</summary>
    internal bool IsDisposed => _disposed != 0;

    /// <summary>The exception that stopped the step loop (an engine bug), or null while it runs.</summary>
    internal Exception? LoopFailure => _loopFailure;

    /// <summary>
    /// The last forward pass that threw (its step's requests were failed, the loop went on) and how long ago, or null.
    /// The server's /health reports a recent one (a failing device) as unhealthy.
    /// </summary>
    internal (Exception Error, TimeSpan Age)? LastForwardFailure =>
        _counters.LastForwardFailure is { } f ? (f.Error, System.Diagnostics.Stopwatch.GetElapsedTime(f.Timestamp)) : null;

    /// <summary>Bytes the loop thread allocated between its waits (admission, scheduling, forward, sampling, emission) since start.</summary>
    internal long StepAllocatedBytes => _counters.StepAllocatedBytes;

    /// <summary>Of <see cref="StepAllocatedBytes"/>, bytes allocated by writes to the requests' output channels.</summary>
    internal long ChannelAllocatedBytes => _counters.ChannelAllocatedBytes;

    /// <summary>Loads the model named by <paramref name="options"/> and starts the step loop.</summary>
    /// <exception cref="ModelLoadException">The model directory cannot be loaded.</exception>
    public static async Task<LlmEngine> LoadAsync(EngineOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var log = new EngineLoadLog(options);
        var loaded = await Task.Run(() => EngineLoader.Load(options), cancellationToken).ConfigureAwait(false);
        LlmEngine engine;
        try { engine = new LlmEngine(loaded.Runner, options, loaded.Tokenizer, loaded.Switches); }
        catch { loaded.Runner.Dispose(); throw; }
        log.Loaded(engine, options);
        return engine;
    }

    /// <summary>An engine over a given runner (tests: e.g. a host runner that launches asynchronously).</summary>
    internal static LlmEngine Create(IModelRunner runner, EngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return new LlmEngine(runner, options, EngineLoader.LoadTokenizer(options.ModelPath), EngineLoader.SwitchesOf(options));
    }

    /// <summary>
    /// Generates continuations of <paramref name="promptIds"/>: one output per token, for each of the n sequences.
    /// A bad request (empty or too long prompt, token id outside the vocabulary, invalid parameters) throws from the
    /// first MoveNextAsync and affects no other request. Cancelling <paramref name="cancellationToken"/> or disposing
    /// the enumerator early aborts the request; its KV blocks are freed at the next step.
    /// </summary>
    public IAsyncEnumerable<GenerationOutput> GenerateAsync(int[] promptIds, SamplingParams samplingParams, CancellationToken cancellationToken = default) =>
        GenerateAsync(promptIds, samplingParams, null, cancellationToken);

    /// <summary>As the public overload, with this request's own detokenizer (the chat client keeps its parsers' markers).</summary>
    internal async IAsyncEnumerable<GenerationOutput> GenerateAsync(int[] promptIds, SamplingParams samplingParams, Func<IStreamingDetokenizer>? detokenizer,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(samplingParams);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        var req = _requests.Create(promptIds, samplingParams, detokenizer);
        await foreach (var output in StreamAsync(req, promptIds.Length, samplingParams, cancellationToken).ConfigureAwait(false)) yield return output;
    }

    /// <summary>
    /// Beam search (<see cref="SamplingParams.BeamWidth"/> &gt; 1, transformers' <c>generate(num_beams=k, do_sample=False)</c>):
    /// returns all k final beams, best first, with their scores. The beams run as k sequences batched with every other
    /// request, sharing their KV blocks (the prompt's, and each common history's) by reference.
    /// </summary>
    /// <exception cref="ArgumentException">BeamWidth is 1, or the request is invalid (as for <see cref="GenerateAsync(int[], SamplingParams, CancellationToken)"/>).</exception>
    public async Task<IReadOnlyList<BeamHypothesis>> BeamSearchAsync(int[] promptIds, SamplingParams samplingParams, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(samplingParams);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (samplingParams.BeamWidth < 2) throw new ArgumentException("BeamSearchAsync needs SamplingParams.BeamWidth >= 2.", nameof(samplingParams));
        var req = _requests.Create(promptIds, samplingParams, null);
        await foreach (var _ in StreamAsync(req, promptIds.Length, samplingParams, cancellationToken).ConfigureAwait(false)) { }
        return req.Beam!.Results ?? throw new InvalidOperationException($"Request {req.Id} ended without beam results.");
    }

    private async IAsyncEnumerable<GenerationOutput> StreamAsync(RequestState req, int promptLength, SamplingParams samplingParams, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Add(ref _promptTokens, promptLength);
        var telemetry = new RequestTelemetry(_modelName, req.Id, promptLength, samplingParams.N, samplingParams.MaxTokens);
        _inbox.Enqueue(req);
        _wake.Set();
        // Lost race with DisposeAsync (or a dead loop): the loop may never see this request.
        if (_disposed != 0) req.Channel.Writer.TryComplete(new ObjectDisposedException(nameof(LlmEngine)));
        else if (_loopFailure is { } failure) req.Channel.Writer.TryComplete(new InvalidOperationException("The engine's step loop has failed.", failure));
        bool completed = false;
        int finished = 0;
        using var registration = cancellationToken.Register(static s => ((LlmEngine)((object[])s!)[0]).Abort((RequestState)((object[])s!)[1]), new object[] { this, req });
        try
        {
            var reader = req.Channel.Reader;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                while (reader.TryRead(out var output))
                {
                    req.Read();
                    cancellationToken.ThrowIfCancellationRequested();
                    telemetry.Token(output.CachedTokens);
                    if (output.FinishReason is { } reason) { finished++; telemetry.Finished(reason == Requests.FinishReason.Stop ? "stop" : "length"); }
                    yield return output;
                }
            completed = true;
        }
        finally
        {
            if (!completed) Abort(req);
            // A failed request completes its channel with the exception (an iterator cannot catch around its yield).
            var completion = req.Channel.Reader.Completion;
            var error = completion.IsFaulted ? completion.Exception!.InnerException : null;
            // Sequences that did not finish: the request failed (the engine's exception) or was abandoned (cancelled, disposed early).
            string outcome = completed ? "finished" : error is null or OperationCanceledException ? "abort" : "error";
            for (int i = finished; i < samplingParams.N; i++) telemetry.Finished(outcome);
            telemetry.End(outcome, error is OperationCanceledException ? null : error);
        }
    }

    /// <summary>
    /// Pins a prompt prefix in the prefix cache: its KV is computed once (by a one-token request, batched with the
    /// others) and its full blocks are then never evicted until the returned handle is disposed, so every request whose
    /// prompt starts with <paramref name="tokenIds"/> and has the same <paramref name="cacheSalt"/> finds them cached,
    /// however much other traffic passes through the pool. Only whole blocks are pinned (<see cref="PrefixPin.NumTokens"/>).
    /// Pinned blocks count against the pool: together at most <see cref="EngineOptions.MaxPinnedKvFraction"/> of it.
    /// The chat client's <see cref="PagedAttentionChatClient.PinInstructionsAsync"/> pins a system prompt as the model's
    /// template renders it.
    /// </summary>
    /// <exception cref="ArgumentException">The prefix is shorter than one block, too long for the model, holds an id outside the vocabulary, the salt is empty, or it alone needs more blocks than pins may hold.</exception>
    /// <exception cref="InvalidOperationException">Prefix caching is off, or the pins together would exceed <see cref="EngineOptions.MaxPinnedKvFraction"/> (or leave a queued request no room).</exception>
    public async Task<PrefixPin> PinPrefixAsync(int[] tokenIds, string? cacheSalt = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (!_prefixCaching) throw new InvalidOperationException("PinPrefixAsync needs EngineOptions.EnablePrefixCaching: with it off no request shares cached blocks.");
        if (tokenIds.Length < _blockSize) throw new ArgumentException($"The prefix has {tokenIds.Length} tokens, less than one KV block ({_blockSize}): there is nothing to pin.", nameof(tokenIds));
        int blocks = tokenIds.Length / _blockSize;
        if (blocks > _core.Pins.MaxPinnedBlocks)
            throw new ArgumentException($"The prefix needs {blocks} KV blocks but pins may hold at most {_core.Pins.MaxPinnedBlocks} (EngineOptions.MaxPinnedKvFraction of {_core.Scheduler.Kv.Pool.NumBlocks} blocks).", nameof(tokenIds));
        var pin = new PrefixPin(this, tokenIds.Length, cacheSalt);
        var req = _requests.Create(tokenIds, new SamplingParams { Temperature = 0, MaxTokens = 1, IgnoreEos = true, CacheSalt = cacheSalt });
        req.Pin = pin;
        _inbox.Enqueue(req);
        _wake.Set();
        if (_disposed != 0) req.Channel.Writer.TryComplete(new ObjectDisposedException(nameof(LlmEngine)));
        using (cancellationToken.Register(static s => ((LlmEngine)((object[])s!)[0]).Abort((RequestState)((object[])s!)[1]), new object[] { this, req }))
        {
            try
            {
                await foreach (var _ in req.Channel.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false)) req.Read();
                await pin.Pinned.Task.ConfigureAwait(false);
            }
            catch (Exception) when (pin.IsPinned)
            {
                Unpin(pin); // pinned, but its request failed on delivery: do not leak the pin
                throw;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("PinPrefixAsync was cancelled.", cancellationToken);
            }
        }
        return pin;
    }

    /// <summary>Queues the release of <paramref name="pin"/>'s blocks (done by the loop before its next step).</summary>
    internal void Unpin(PrefixPin pin)
    {
        _unpins.Enqueue(pin);
        _wake.Set();
        // The loop is gone (disposed or failed): nothing will release the blocks, and nothing needs them.
        if (_stopped.Task.IsCompleted) while (_unpins.TryDequeue(out var p)) p.Released.TrySetResult();
    }

    private EngineGauges Gauges()
    {
        var m = GetMetrics();
        return new EngineGauges(m.Running, m.Waiting, m.KvBlocksTotal == 0 ? 0 : (double)m.KvBlocksUsed / m.KvBlocksTotal, m.PrefixQueryTokens, m.PrefixHitTokens,
            m.Preemptions, Interlocked.Read(ref _promptTokens), m.GeneratedTokens, m.ComputedTokens);
    }

    /// <summary>A snapshot of load and counters. Safe from any thread; values may be one step apart.</summary>
    public EngineMetrics GetMetrics()
    {
        var scheduler = _core.Scheduler;
        var kv = scheduler.Kv;
        long busy = _counters.BusyTicks, generated = _counters.GeneratedTokens;
        return new EngineMetrics
        {
            Running = scheduler.NumRunning,
            Waiting = scheduler.NumWaiting + scheduler.NumSwapped + _inbox.Count,
            KvBlocksTotal = kv.Pool.NumBlocks,
            KvBlocksFree = kv.Pool.NumFree,
            KvBlocksCached = kv.Pool.NumCached,
            KvBlocksPinned = kv.Pool.NumPinned,
            KvBlocksCopied = kv.NumCopiedBlocks,
            PinnedPrefixes = _core.Pins.Count,
            PrefixQueryTokens = kv.PrefixQueryTokens,
            PrefixHitTokens = kv.PrefixHitTokens,
            Preemptions = scheduler.NumPreemptions,
            RecomputePreemptions = scheduler.NumRecomputePreemptions,
            SwapOuts = scheduler.NumSwapOuts,
            SwapIns = scheduler.NumSwapIns,
            Swapped = scheduler.NumSwapped,
            SwapBytesOut = _core.Swaps.BytesOut,
            SwapBytesIn = _core.Swaps.BytesIn,
            SwapSeconds = _core.Runner.SwapCopySeconds ?? _core.Swaps.Seconds,
            SwapIssueSeconds = _core.Swaps.Seconds,
            HostTierBlocks = kv.Tier?.Count ?? 0,
            HostTierHitTokens = kv.TierHitTokens,
            HostTierBlocksOut = kv.TierBlocksOut,
            HostTierBlocksIn = kv.TierBlocksIn,
            HostBlocksTotal = kv.Host?.NumBlocks ?? 0,
            HostBlocksFree = kv.Host?.NumFree ?? 0,
            DroppedLogCalls = _logger.DroppedCalls,
            Steps = _counters.Steps,
            ComputedTokens = _counters.ComputedTokens,
            GeneratedTokens = generated,
            BusySeconds = EngineCounters.Seconds(busy),
            ForwardSeconds = EngineCounters.Seconds(_counters.ForwardTicks),
            GeneratedTokensPerSecond = busy == 0 ? 0 : generated / EngineCounters.Seconds(busy),
        };
    }

    private void Abort(RequestState req)
    {
        if (!req.TryRequestAbort()) return;
        _aborts.Enqueue(req);
        _wake.Set();
    }

    private void Loop()
    {
        var scheduler = _core.Scheduler;
        try
        {
            while (!_stopping)
            {
                // Everything the loop thread does between waits is measured: admissions, aborts, steps, emission.
                long allocated = GC.GetAllocatedBytesForCurrentThread();
                while (_inbox.TryDequeue(out var req))
                    foreach (var seq in req.Sequences) if (!seq.IsFinished) scheduler.Add(seq); // a beam search starts with one beam
                while (_aborts.TryDequeue(out var req)) _core.EndRequest(req, null);
                while (_unpins.TryDequeue(out var pin)) _core.Pins.Release(pin);
                if (!scheduler.HasWork && !_strategy.HasInFlight)
                {
                    _core.Deliver(); // nothing to overlap with: deliver the last step's tokens now
                    _counters.AddStepAllocated(GC.GetAllocatedBytesForCurrentThread() - allocated);
                    if (VerifyInvariants) scheduler.CheckInvariants();
                    _wake.WaitOne();
                    continue;
                }
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                _strategy.Step();
                _counters.AddStepAllocated(GC.GetAllocatedBytesForCurrentThread() - allocated);
                _counters.AddBusy(System.Diagnostics.Stopwatch.GetTimestamp() - start);
                if (VerifyInvariants) scheduler.CheckInvariants();
                AfterStep?.Invoke(scheduler);
            }
            _strategy.Drain();
            _core.Deliver(); // tokens computed before the stop still reach their callers
            while (_unpins.TryDequeue(out var pin)) _core.Pins.Release(pin);
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

    private void FailAll(Exception ex)
    {
        while (_inbox.TryDequeue(out var req)) _core.EndRequest(req, ex);
        _core.FailAll(ex);
    }

    /// <summary>Stops the step loop, fails requests still pending with <see cref="ObjectDisposedException"/>, and frees the cache and model.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _statsLogger?.Dispose();
        _instruments.Dispose();
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
