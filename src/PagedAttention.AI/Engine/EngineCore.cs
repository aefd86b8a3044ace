using System.Diagnostics;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using PagedAttention.AI.Models;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;
using PagedAttention.AI.Scheduling;

namespace PagedAttention.AI.Engine;

/// <summary>
/// What both step strategies share: the scheduler, the model runner and the reused step buffers, and the work
/// around a forward pass — flattening a step, setting device-sampler rows, accepting a sampled token (sampling on
/// the host if needed, the stop decision, the output), committing a finished step and failing requests. Owned and
/// called by the step-loop thread only.
/// </summary>
internal sealed class EngineCore
{
    private readonly ILogger _logger;
    private readonly Sampler _sampler;
    private readonly uint[] _mask; // a host-sampled constrained row's allowed tokens, filled just before it samples
    private readonly int _blockSize, _vocab;
    private readonly Action<RequestState, Exception> _failRequest;

    private readonly bool _checkLogits;

    public EngineCore(IModelRunner runner, Scheduler<EngineSequence> scheduler, EngineOptions options, int maxBlocksPerSeq, EngineCounters counters, ILogger logger)
    {
        int maxNumBatchedTokens = options.MaxNumBatchedTokens, maxNumSeqs = options.MaxNumSeqs;
        _checkLogits = options.CheckFirstTokenLogits ?? runner.DeviceSampler is null;
        Runner = runner;
        Scheduler = scheduler;
        Counters = counters;
        _logger = logger;
        _blockSize = scheduler.Kv.BlockSize;
        _vocab = runner.Model.Config.VocabSize;
        _sampler = new Sampler(_vocab);
        _mask = new uint[Sampler.MaskWords(_vocab)];
        Batch = new ForwardBatch(maxNumBatchedTokens, maxNumSeqs, maxBlocksPerSeq);
        Logits = new float[maxNumSeqs * _vocab];
        DeviceTokens = new int[maxNumSeqs];
        _logitRows = new int[maxNumSeqs];
        Output = new OutputProcessor(maxNumSeqs, counters, options.MaxBufferedOutputsPerRequest);
        Pins = new PrefixPins(scheduler, options.MaxPinnedKvFraction);
        _failRequest = (req, ex) =>
        {
            _logger.LogError(ex, "Request {RequestId} failed while delivering its output.", req.Id);
            EndRequest(req, ex);
        };
    }

    private readonly int[] _logitRows; // rows of this step sampled on the host (their logits come back), ascending
    private int _numLogitRows;

    public IModelRunner Runner { get; }
    public Scheduler<EngineSequence> Scheduler { get; }
    public EngineCounters Counters { get; }
    public OutputProcessor Output { get; }
    public PrefixPins Pins { get; }
    public SwapCounters Swaps { get; } = new();
    public ForwardBatch Batch { get; }
    public float[] Logits { get; }
    public int[] DeviceTokens { get; }
    public bool SamplesOnDevice => Runner.DeviceSampler is not null;

    /// <summary>
    /// Flattens <paramref name="output"/> into <see cref="Batch"/>, and queues the step's copy-on-write block copies on the
    /// device (ahead of its forward pass, in stream order).
    /// </summary>
    public void Build(SchedulerOutput<EngineSequence> output)
    {
        RunCopies();
        BatchBuilder.Build(output, Batch, _blockSize);
    }

    /// <summary>
    /// Runs the block copies the last schedule decided (swap-outs, copies on write, swap-ins) and frees the host blocks
    /// swapped in. Called by <see cref="Build"/>, and by the step strategies when a schedule has no rows.
    /// </summary>
    public void RunCopies()
    {
        var kv = Scheduler.Kv;
        // Order matters: swap-outs read blocks this schedule released (before anything rewrites them), copies on write
        // and swap-ins write blocks it allocated (perhaps just released by a swap-out); the host blocks swapped in are
        // freed only after their copies ran.
        if (kv.PendingSwapOut.Count + kv.PendingCopies.Count + kv.PendingSwapIn.Count > 0)
        {
            long start = Stopwatch.GetTimestamp();
            if (kv.PendingSwapOut.Count > 0) Runner.SwapOut(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(kv.PendingSwapOut));
            if (kv.PendingCopies.Count > 0) Runner.CopyBlocks(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(kv.PendingCopies));
            if (kv.PendingSwapIn.Count > 0) Runner.SwapIn(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(kv.PendingSwapIn));
            long ticks = Stopwatch.GetTimestamp() - start;
            long bytesOut = kv.PendingSwapOut.Count / 2 * Runner.KvBytesPerBlock, bytesIn = kv.PendingSwapIn.Count / 2 * Runner.KvBytesPerBlock;
            if (bytesOut + bytesIn > 0)
            {
                Swaps.Add(bytesOut, bytesIn, ticks);
                // Synchronous copies (CPU) are timed; a device queues them, so its enqueue time says nothing.
                if (!Runner.CanLaunchAsync) Scheduler.Preemption?.ObserveCopy(bytesOut + bytesIn, ticks / (double)Stopwatch.Frequency);
            }
        }
        kv.CopiesDone();
    }

    /// <summary>Writes the pending outputs; returns the ticks it took (not counted as forward time).</summary>
    public long Deliver() => Output.Deliver(_failRequest);

    /// <summary>
    /// Forward + sampling of a built step, waiting for it, then accepting its tokens. <paramref name="rowsSet"/>: the
    /// caller already set the device-sampler rows (<see cref="SetSamplerRows"/>).
    /// </summary>
    public void RunToCompletion(SchedulerOutput<EngineSequence> output, bool rowsSet = false)
    {
        bool onDevice = SamplesOnDevice;
        try
        {
            if (onDevice && !rowsSet) SetSamplerRows(output);
            long forwardStart = Stopwatch.GetTimestamp();
            long delivered = Deliver();
            if (onDevice) Runner.ForwardSample(Batch, DeviceTokens, Logits, _logitRows.AsSpan(0, _numLogitRows));
            else Runner.Forward(Batch, Logits);
            long forwardTicks = Stopwatch.GetTimestamp() - forwardStart - delivered;
            Counters.AddForward(forwardTicks);
            Scheduler.Preemption?.ObservePrefill(output.TotalTokens, forwardTicks / (double)Stopwatch.Frequency);
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
            AcceptToken(seq, Logits.AsSpan(i * _vocab, _vocab), onDevice && !SampleOnHost(seq) ? DeviceTokens[i] : -1);
        }
    }

    /// <summary>
    /// Sets the device sampler's rows for a step; the rows it cannot serve (logprobs) are listed for the host, and
    /// their logits come back. Returns whether there are any.
    /// </summary>
    public bool SetSamplerRows(SchedulerOutput<EngineSequence> output)
    {
        var ds = Runner.DeviceSampler!;
        ds.Begin(output.Count);
        _numLogitRows = 0;
        for (int i = 0; i < output.Count; i++)
        {
            var seq = output.Seq(i);
            if (seq.IsFinished || seq.NumComputedTokens + output.NumTokens(i) != seq.NumTokens) continue;
            if (SampleOnHost(seq))
            {
                _logitRows[_numLogitRows++] = i;
                continue;
            }
            var keyRng = seq.Rng; // a copy: the sequence's stream key, never advanced for device-sampled rows
            ds.SetRow(i, in seq.Row, keyRng.NextUInt64(), seq.NumOutputTokens, seq.PromptTokens, seq.OutputTokens, seq.Stop.EndTokenIds);
            if (seq.Constraint is { ConstrainsNext: true } c) ds.SetConstraint(i, c);
        }
        return _numLogitRows > 0;
    }

    // Rows the device sampler cannot serve: logprobs, and first tokens whose logits are checked for NaN/Inf.
    private bool SampleOnHost(EngineSequence seq) => seq.NeedsHostSampling || (_checkLogits && seq.NumOutputTokens == 0);

    /// <summary>Bookkeeping of a step the device has finished (synchronous steps, the drain at stop).</summary>
    public void CommitFinishedStep(SchedulerOutput<EngineSequence> output)
    {
        Scheduler.CommitStep(output);
        Counters.CountStep(output.TotalTokens);
    }

    /// <summary>Takes the device-sampled tokens of rows that sampled (<paramref name="sampled"/>) of sequences still alive.</summary>
    public void AcceptDeviceTokens(SchedulerOutput<EngineSequence> output, ReadOnlySpan<bool> sampled, bool resolve)
    {
        for (int i = 0; i < output.Count; i++)
        {
            if (!sampled[i]) continue;
            var seq = output.Seq(i);
            if (seq.IsFinished || seq.HasPlaceholder != resolve) continue;
            AcceptToken(seq, default, DeviceTokens[i], resolve);
        }
    }

    /// <summary>
    /// Takes one sequence's next token: <paramref name="deviceToken"/>, or sampled on the host from
    /// <paramref name="logits"/> when it is -1. <paramref name="resolve"/>: it replaces the placeholder appended while
    /// its step was in flight. The stop checker decides whether the sequence ends (freed now) and the text it adds.
    /// A failure here fails only this sequence's request.
    /// </summary>
    public void AcceptToken(EngineSequence seq, Span<float> logits, int deviceToken, bool resolve = false)
    {
        if (seq.Beam is { } beam)
        {
            try { beam.Accept(seq, logits, Scheduler, Counters, Output); }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Request {RequestId} failed in its beam search.", seq.RequestId);
                EndRequest(seq.Request, ex);
            }
            return;
        }
        try
        {
            float logprob = float.NaN;
            if (deviceToken < 0 && _checkLogits && seq.NumOutputTokens == 0 && !float.IsFinite(TensorPrimitives.MaxMagnitude(logits)))
                throw new InvalidOperationException($"The model produced non-finite logits (NaN or Inf) for the first token of request {seq.RequestId}: its weights or activations are broken; the request is failed.");
            var constraint = seq.Constraint;
            if (deviceToken == IDeviceSampler.EmptyMaskToken) throw EmptyMask(seq);
            int token;
            if (deviceToken >= 0) token = deviceToken;
            else if (constraint is null || !constraint.ConstrainsNext)
                token = _sampler.Sample(logits, in seq.Row, seq.PromptTokens, seq.OutputTokens, seq.Stop.EndTokenIds, ref seq.Rng, seq.TopLogprobs, out logprob);
            else
            {
                constraint.FillMask(_mask);
                try { token = _sampler.Sample(logits, in seq.Row, seq.PromptTokens, seq.OutputTokens, seq.Stop.EndTokenIds, _mask, ref seq.Rng, seq.TopLogprobs, out logprob); }
                catch (InvalidOperationException e) { throw EmptyMask(seq, e); }
            }
            if (constraint is not null && !constraint.Accept(token))
                throw new InvalidOperationException($"Request {seq.RequestId}: token {token} was sampled but {constraint.Description} does not allow it (a bug in the constraint's mask); the request is failed.");
            if (resolve) seq.ResolvePlaceholder(token);
            else seq.AppendToken(token);
            var reason = seq.Stop.Check(token, seq.NumOutputTokens, seq.NumTokens, out string? text);
            // A complete constraint ends the sequence (nothing may follow), unless a stop rule already did.
            if (reason is null && constraint is { IsComplete: true }) reason = FinishReason.Stop;
            Counters.CountGenerated();
            Output.Add(seq, token, reason, text, logprob, seq.NeedsHostSampling ? (TokenLogprob[])seq.TopLogprobs.Clone() : null);
            if (reason is not null && seq.Request.Pin is { } pin) Pins.Take(seq, pin); // before its blocks are freed
            if (reason is not null) Scheduler.Finish(seq, reason);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Request {RequestId} failed while sampling.", seq.RequestId);
            EndRequest(seq.Request, ex);
        }
    }

    private static InvalidOperationException EmptyMask(EngineSequence seq, Exception? inner = null) =>
        new($"Request {seq.RequestId}: {seq.Constraint?.Description ?? "the constraint"} allows no token at output position {seq.NumOutputTokens} (a dead end in the grammar, or its only tokens are held back, e.g. end tokens before MinTokens); the request is failed.", inner);

    /// <summary>The whole step is lost: fails its requests and keeps serving the others.</summary>
    public void FailStep(SchedulerOutput<EngineSequence> output, Exception ex)
    {
        _logger.LogError(ex, "A forward pass failed; the {Count} requests in that step are failed.", output.Count);
        Counters.ForwardFailed(ex);
        for (int i = 0; i < output.Count; i++) EndRequest(output.Seq(i).Request, ex);
        Deliver();
    }

    /// <summary>Ends a request early: aborted (<paramref name="error"/> null) or failed. Frees its blocks now.</summary>
    public void EndRequest(RequestState req, Exception? error)
    {
        if (req.Done) return;
        req.Done = true;
        req.Pin?.Pinned.TrySetException(error ?? new OperationCanceledException("The pin's request was cancelled."));
        foreach (var seq in req.Sequences) Scheduler.Finish(seq, null);
        Output.Complete(req, error);
    }

    /// <summary>Fails every request the scheduler holds.</summary>
    public void FailAll(Exception ex)
    {
        foreach (var seq in Scheduler.Running.Concat(Scheduler.Waiting).Concat(Scheduler.Swapped).ToList()) EndRequest(seq.Request, ex);
    }
}
