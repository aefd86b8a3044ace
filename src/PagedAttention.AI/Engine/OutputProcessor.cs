using System.Diagnostics;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;

namespace PagedAttention.AI.Engine;

/// <summary>
/// Holds the outputs of accepted tokens (their text and stop decision are already made, by the sequence's
/// <see cref="StopChecker"/>) and writes them to their requests' channels later — on an asynchronous device while
/// it computes the next step — completing a request when its last sequence ends. Step-loop thread only; the
/// buffer is sized once (one output per scheduled sequence per step).
/// </summary>
internal sealed class OutputProcessor
{
    private readonly PendingOutput[] _pending;
    private readonly EngineCounters _counters;
    private readonly int _maxBuffered;
    private int _count;

    public OutputProcessor(int maxNumSeqs, EngineCounters counters, int maxBufferedPerRequest)
    {
        _pending = new PendingOutput[maxNumSeqs];
        _counters = counters;
        _maxBuffered = maxBufferedPerRequest;
    }

    /// <summary>Outputs waiting for <see cref="Deliver"/>.</summary>
    public int Count => _count;

    public void Add(EngineSequence seq, int token, FinishReason? reason, string? text, float logprob, TokenLogprob[]? topLogprobs) =>
        _pending[_count++] = new PendingOutput(seq, token, seq.NumOutputTokens - 1, reason, text, seq.NumCachedTokens, logprob, topLogprobs);

    /// <summary>
    /// Writes the pending outputs to their channels (skipping requests that ended meanwhile); a failure fails only that
    /// request, through <paramref name="fail"/>. Returns the ticks it took.
    /// </summary>
    public long Deliver(Action<RequestState, Exception> fail)
    {
        if (_count == 0) return 0;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < _count; i++)
        {
            var o = _pending[i];
            _pending[i] = default;
            var req = o.Seq.Request;
            if (req.Done) continue; // aborted or failed meanwhile
            try { Write(o, req); }
            catch (Exception ex) { fail(req, ex); }
        }
        _count = 0;
        return Stopwatch.GetTimestamp() - start;
    }

    private void Write(in PendingOutput o, RequestState req)
    {
        var output = new GenerationOutput(o.Token, o.Index, o.Reason)
        {
            SequenceIndex = o.Seq.Index,
            TextDelta = o.Text,
            CachedTokens = o.CachedTokens,
            Logprob = o.Logprob,
            TopLogprobs = o.TopLogprobs,
        };
        // A reader that stopped reading: abort rather than buffer without bound (documented in EngineOptions).
        if (req.Unread >= _maxBuffered)
            throw new InvalidOperationException($"Request {req.Id} was aborted: its reader fell {_maxBuffered} outputs behind (EngineOptions.MaxBufferedOutputsPerRequest).");
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        req.Wrote();
        req.Channel.Writer.TryWrite(output);
        _counters.AddChannelAllocated(GC.GetAllocatedBytesForCurrentThread() - allocated);
        if (o.Reason is null) return;
        if (--req.Remaining == 0 && !req.Done)
        {
            req.Done = true;
            Complete(req, null);
        }
    }

    /// <summary>
    /// Writes a finished beam's outputs straight to the request's channel (beam search delivers when it ends; this
    /// allocates, once per request): one output per token, <paramref name="rank"/> as the sequence index.
    /// </summary>
    public void WriteDirect(RequestState req, int[] tokens, string?[] texts, int rank, FinishReason reason, int cachedTokens, float score)
    {
        for (int i = 0; i < tokens.Length; i++)
        {
            bool last = i == tokens.Length - 1;
            req.Wrote();
            req.Channel.Writer.TryWrite(new GenerationOutput(tokens[i], i, last ? reason : null)
            {
                SequenceIndex = rank,
                TextDelta = texts[i],
                CachedTokens = cachedTokens,
                Logprob = float.NaN,
                BeamScore = score,
            });
        }
    }

    /// <summary>
    /// Completes <paramref name="req"/>'s channel (with <paramref name="error"/>, or normally). Completing wakes the
    /// reader through the thread pool; when the pool's global queue is backed up that enqueue may grow the queue by a
    /// segment (~4.6 KB). That is the hand-off's cost, not the step's, so it is counted with the channel writes.
    /// </summary>
    public void Complete(RequestState req, Exception? error)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        req.Channel.Writer.TryComplete(error);
        _counters.AddChannelAllocated(GC.GetAllocatedBytesForCurrentThread() - allocated);
    }

    private readonly record struct PendingOutput(EngineSequence Seq, int Token, int Index, FinishReason? Reason, string? Text, int CachedTokens, float Logprob, TokenLogprob[]? TopLogprobs);
}
