using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PagedAttention.AI.KvCache;
using PagedAttention.AI.Requests;

namespace PagedAttention.AI.Scheduling;

/// <summary>
/// vLLM-v1-style scheduler. There is no prefill or decode phase: every sequence has tokens whose KV is not computed
/// yet, and each step hands out a token budget, running sequences first (oldest first), then waiting ones (FCFS).
/// A prompt longer than the budget advances in chunks over several steps, next to other sequences' decodes. When
/// blocks run out, the newest running sequence is preempted (blocks freed, recomputed later). Knows no tensors and
/// no sampling: the caller appends tokens and decides when a sequence stops (<c>Sampling.StopChecker</c>), then calls
/// <see cref="Finish"/>. Generic over the caller's sequence type so that it gets its own type back without a cast.
/// </summary>
internal sealed class Scheduler<TSeq> where TSeq : ScheduledSequence
{
    private readonly SchedulerOptions _options;
    private readonly ILogger _logger;
    private readonly List<TSeq> _running;
    private readonly List<TSeq> _waiting = new();
    private readonly List<TSeq> _swapped = new();
    private readonly List<KvBlock> _hits = new();
    private readonly List<int> _tierHits = new();
    private readonly SchedulerOutput<TSeq> _output;
    private long _arrivals;

    public Scheduler(SchedulerOptions options, KvCacheManager kv, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(kv);
        options.Validate();
        _options = options;
        Kv = kv;
        _logger = logger ?? NullLogger.Instance;
        _running = new List<TSeq>(options.MaxNumSeqs);
        _output = new SchedulerOutput<TSeq>(options.MaxNumSeqs);
    }

    public KvCacheManager Kv { get; }

    /// <summary>The swap-or-recompute policy, or null (recompute only).</summary>
    public PreemptionPolicy? Preemption => _options.Preemption;

    public int NumRunning => _running.Count;

    public int NumWaiting => _waiting.Count;

    /// <summary>Preemptions since start (by recompute and by swap).</summary>
    public long NumPreemptions { get; private set; }

    /// <summary>Of those, preemptions by recompute.</summary>
    public long NumRecomputePreemptions { get; private set; }

    /// <summary>Sequences swapped out to host memory / swapped back in, and their blocks.</summary>
    public long NumSwapOuts { get; private set; }

    /// <inheritdoc cref="NumSwapOuts"/>
    public long NumSwapIns { get; private set; }

    /// <summary>Of <see cref="NumSwapOuts"/>, victims swapped out while their last token was a placeholder still being sampled.</summary>
    public long NumSwapOutsWithPendingToken { get; private set; }

    /// <inheritdoc cref="NumSwapOuts"/>
    public long NumSwappedOutBlocks { get; private set; }

    /// <inheritdoc cref="NumSwapOuts"/>
    public long NumSwappedInBlocks { get; private set; }

    public int NumSwapped => _swapped.Count;

    public bool HasWork => _running.Count + _waiting.Count + _swapped.Count > 0;

    /// <summary>Swapped-out sequences in resume order (FCFS).</summary>
    public IReadOnlyList<TSeq> Swapped => _swapped;

    /// <summary>Running sequences, oldest first (read-only view for diagnostics).</summary>
    public IReadOnlyList<TSeq> Running => _running;

    /// <summary>Waiting sequences in admission order.</summary>
    public IReadOnlyList<TSeq> Waiting => _waiting;

    /// <summary>Queues a new sequence. It must fit the cache on its own (the engine checks at submission).</summary>
    public void Add(TSeq seq)
    {
        if (Kv.BlocksFor(seq.MaxTotalTokens) > Kv.Pool.NumBlocks)
            throw new ArgumentException($"A sequence of up to {seq.MaxTotalTokens} tokens needs more than the {Kv.Pool.NumBlocks} KV blocks of the cache.", nameof(seq));
        seq.Status = SequenceStatus.Waiting;
        seq.ArrivalOrder = _arrivals++;
        _waiting.Add(seq);
    }

    /// <summary>Decides the next step. The result is reused by the next call.</summary>
    public SchedulerOutput<TSeq> Schedule() => Schedule(_output);

    /// <summary>
    /// Decides the next step into <paramref name="output"/> (so that a caller can keep the step in flight while it
    /// schedules the next one). Running sequences whose last token is a placeholder get their decode row like any other.
    /// </summary>
    public SchedulerOutput<TSeq> Schedule(SchedulerOutput<TSeq> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.Clear();
        int budget = _options.MaxNumBatchedTokens;

        // Running first, oldest first; preempt the newest when the pool is short.
        for (int i = 0; i < _running.Count && budget > 0;)
        {
            var seq = _running[i];
            if (seq.NumTokens == seq.NumComputedTokens)
            {
                i++; // a beam waiting for its siblings' logits: nothing to compute until the beam step appends its token
                continue;
            }
            int n = Math.Min(ChunkFor(seq.NumTokens - seq.NumComputedTokens), budget);
            bool selfPreempted = false;
            while (!Kv.AllocateSlots(seq.Table, seq.KnownTokens, seq.NumTokens, seq.NumComputedTokens, n))
            {
                var victim = _running[^1];
                Preempt(victim);
                output.NumPreempted++;
                if (ReferenceEquals(victim, seq)) { selfPreempted = true; break; }
            }
            if (selfPreempted) break;
            output.Add(seq, n);
            budget -= n;
            i++;
        }

        // Then swapped-out sequences resume, FCFS, before any waiting one is admitted; all unless this step already
        // had to preempt (memory is tight).
        if (output.NumPreempted == 0 && Resume(output, ref budget)) Admit(output, ref budget);
        // Nothing to run, yet sequences wait: everything running is an idle beam holding blocks for its siblings
        // (which may be among the waiting). Release the newest (to be recomputed, queued last, so that it does not take
        // its room back before the head) until the head of the queue gets in, or nobody runs.
        while (output.Count == 0 && _waiting.Count + _swapped.Count > 0 && _running.Count > 0)
        {
            var idle = _running[^1];
            _running.RemoveAt(_running.Count - 1);
            Free(idle);
            idle.Status = SequenceStatus.Waiting;
            idle.NumPreemptions++;
            NumPreemptions++;
            NumRecomputePreemptions++;
            _waiting.Add(idle);
            output.NumPreempted++;
            if (Resume(output, ref budget)) Admit(output, ref budget);
        }
        _hits.Clear();
        return output;
    }

    // Swaps sequences back in, oldest first; true when none is left swapped out (new admissions may follow).
    private bool Resume(SchedulerOutput<TSeq> output, ref int budget)
    {
        while (_swapped.Count > 0 && budget > 0 && _running.Count < _options.MaxNumSeqs)
        {
            // A sequence swapped out by this very schedule (only the idle-beam release below resumes after preempting)
            // may still end in its placeholder: it resumes like a running one that has it (a one-token decode row whose
            // id is patched once known); its copies in run after its copies out.
            var seq = _swapped[0];
            int n = Math.Min(ChunkFor(seq.NumTokens - seq.NumComputedTokens), budget);
            int blocks = seq.Table.NumHostBlocks;
            if (!Kv.TrySwapIn(seq.Table, seq.KnownTokens, seq.NumTokens, seq.NumComputedTokens, n, _hits)) return false;
            _swapped.RemoveAt(0);
            NumSwapIns++;
            NumSwappedInBlocks += blocks;
            seq.Status = SequenceStatus.Running;
            _running.Add(seq);
            if (n > 0) output.Add(seq, n);
            budget -= n;
        }
        return _swapped.Count == 0;
    }

    private void Admit(SchedulerOutput<TSeq> output, ref int budget)
    {
        for (int w = 0; w < _waiting.Count && budget > 0 && _running.Count < _options.MaxNumSeqs;)
        {
            var seq = _waiting[w];
            if (seq.HasPlaceholder)
            {
                // Preempted while its token was in flight: admitted again once that token is known.
                w++;
                continue;
            }
            int cached = Kv.FindCachedPrefix(seq.Table, seq.Tokens, _hits, out bool pending, _tierHits);
            if (pending)
            {
                // Another sequence is computing this very prefix in this step: take it from the cache next step.
                w++;
                continue;
            }
            int n = Math.Min(ChunkFor(seq.NumTokens - cached), budget);
            if (!Kv.AllocateSlots(seq.Table, seq.KnownTokens, seq.NumTokens, 0, n, _hits, _tierHits)) break; // FCFS: nobody overtakes the head for memory.
            Kv.RecordLookup(seq.NumTokens, cached);
            seq.NumComputedTokens = cached;
            seq.NumCachedTokens = cached;
            _waiting.RemoveAt(w);
            seq.Status = SequenceStatus.Running;
            _running.Add(seq);
            output.Add(seq, n);
            budget -= n;
        }
    }

    /// <summary>
    /// Makes <paramref name="child"/> (a finished sequence of the same request: a spare or retired beam) a fork of
    /// <paramref name="parent"/>: same tokens; if the parent runs, the same blocks by reference
    /// (<see cref="KvCacheManager.Fork"/>) and it runs too (unless <c>MaxNumSeqs</c> are running: then it waits and
    /// takes the shared blocks from the prefix cache on admission); else it waits, in the parent's arrival order.
    /// </summary>
    public void Fork(TSeq parent, TSeq child)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(child);
        if (!child.IsFinished) throw new InvalidOperationException($"{child} is live; only a finished sequence can become a fork.");
        if (parent.IsFinished) throw new InvalidOperationException($"{parent} has finished.");
        child.CopyTokensFrom(parent);
        child.FinishReason = null;
        child.ArrivalOrder = parent.ArrivalOrder;
        child.NumCachedTokens = parent.NumCachedTokens;
        if (parent.Status == SequenceStatus.Running && _running.Count < _options.MaxNumSeqs)
        {
            Kv.Fork(parent.Table, child.Table);
            child.NumComputedTokens = parent.NumComputedTokens;
            child.Status = SequenceStatus.Running;
            _running.Add(child);
            return;
        }
        child.Table.CopyStateFrom(parent.Table, withBlocks: false);
        child.NumComputedTokens = 0;
        child.Status = SequenceStatus.Waiting;
        int at = 0;
        while (at < _waiting.Count && _waiting[at].ArrivalOrder <= child.ArrivalOrder) at++;
        _waiting.Insert(at, child);
    }

    /// <summary>After the forward pass of <paramref name="output"/>: advances computed tokens and marks full blocks computed.</summary>
    public void CommitStep(SchedulerOutput<TSeq> output)
    {
        for (int i = 0; i < output.Count; i++)
        {
            var seq = output.Seq(i);
            if (seq.Status != SequenceStatus.Running) continue;
            seq.NumComputedTokens += output.NumTokens(i);
            Kv.CommitComputed(seq.Table, seq.NumComputedTokens);
        }
    }

    /// <summary>Ends <paramref name="seq"/> and frees its blocks; a null reason means aborted or failed. Idempotent.</summary>
    public void Finish(TSeq seq, FinishReason? reason)
    {
        if (seq.IsFinished) return;
        if (seq.Status == SequenceStatus.Running) _running.Remove(seq);
        else if (seq.Status == SequenceStatus.Swapped)
        {
            _swapped.Remove(seq);
            Kv.FreeHost(seq.Table);
        }
        else _waiting.Remove(seq);
        Free(seq);
        seq.Status = SequenceStatus.Finished;
        seq.FinishReason = reason;
    }

    /// <summary>
    /// Verifies the block pool (<see cref="BlockPool.CheckInvariants"/>) and that each block's reference count equals
    /// the number of running block tables holding it plus its pins (waiting and finished sequences hold none), that every running
    /// sequence has blocks for its computed tokens, that no sequence is both running and waiting, and the prefix cache's
    /// host tier (<see cref="HostPrefixTier.CheckInvariants"/>). Throws
    /// <see cref="InvalidOperationException"/>. Allocates; for tests and debug runs only.
    /// </summary>
    internal void CheckInvariants()
    {
        var pool = Kv.Pool;
        pool.CheckInvariants();
        Kv.Tier?.CheckInvariants();
        var refs = new int[pool.NumBlocks];
        foreach (var seq in _running)
        {
            if (seq.Status != SequenceStatus.Running) throw new InvalidOperationException($"{seq} is in the running list.");
            if (Kv.BlocksFor(seq.NumComputedTokens) > seq.Table.Count) throw new InvalidOperationException($"{seq} has fewer blocks than its computed tokens need.");
            foreach (var b in seq.Blocks) refs[b.Id]++;
        }
        foreach (var seq in _waiting)
        {
            if (seq.Status != SequenceStatus.Waiting) throw new InvalidOperationException($"{seq} is in the waiting list.");
            if (seq.Table.Count != 0 || seq.NumComputedTokens != 0 || seq.Table.NumHostBlocks != 0) throw new InvalidOperationException($"{seq} is waiting but holds blocks.");
        }
        int hostHeld = 0;
        foreach (var seq in _swapped)
        {
            if (seq.Status != SequenceStatus.Swapped) throw new InvalidOperationException($"{seq} is in the swapped list.");
            if (seq.Table.Count != 0) throw new InvalidOperationException($"{seq} is swapped out but holds device blocks.");
            if (seq.Table.NumHostBlocks != Kv.BlocksFor(seq.NumComputedTokens)) throw new InvalidOperationException($"{seq} holds {seq.Table.NumHostBlocks} host blocks for {seq.NumComputedTokens} computed tokens.");
            hostHeld += seq.Table.NumHostBlocks;
        }
        if (Kv.Host is { } host && host.NumUsed() != hostHeld) throw new InvalidOperationException($"{host.NumUsed()} host blocks are in use but swapped sequences hold {hostHeld}.");
        for (int i = 0; i < refs.Length; i++)
            if (refs[i] + pool[i].PinCount != pool[i].RefCount) throw new InvalidOperationException($"{pool[i]}: {refs[i]} running block tables and {pool[i].PinCount} pins hold it.");
    }

    private void Free(TSeq seq)
    {
        Kv.Free(seq.Table);
        seq.NumComputedTokens = 0;
    }

    private int ChunkFor(int remaining)
    {
        int cap = _options.LongPrefillTokenThreshold;
        return cap > 0 && remaining > cap ? cap : remaining;
    }

    private void Preempt(TSeq victim)
    {
        _running.RemoveAt(_running.Count - 1);
        victim.NumPreemptions++;
        NumPreemptions++;
        var policy = _options.Preemption;
        int blocks = victim.Table.Count;
        // A victim whose last token is a placeholder (the pipelined step loop: the step in flight is sampling it) swaps
        // like any other. Its computed tokens are those up to the placeholder, whose KV that step is writing now; the
        // copies out are queued (EngineCore.RunCopies) after that step in device order (CUDA: the copy stream waits on
        // an event recorded on the compute stream), so they read the final KV. The placeholder itself has no KV yet
        // (no slot was allocated for it) and is resolved while the sequence is swapped out: AcceptToken resolves it
        // and, if that token ends the sequence, Finish frees its host blocks and takes it off the swapped list. Resolving
        // first instead would mean waiting for the step in flight inside Schedule, which is what the overlap avoids.
        bool wanted = policy is not null && Kv.Host is not null && blocks > 0 && policy.ShouldSwap(blocks, victim.NumComputedTokens);
        bool pending = victim.HasPlaceholder;
        if (wanted && Kv.SwapOut(victim.Table))
        {
            victim.Status = SequenceStatus.Swapped;
            NumSwapOuts++;
            if (pending) NumSwapOutsWithPendingToken++;
            NumSwappedOutBlocks += blocks;
            // Resumed FCFS: oldest first.
            int s = 0;
            while (s < _swapped.Count && _swapped[s].ArrivalOrder <= victim.ArrivalOrder) s++;
            _swapped.Insert(s, victim);
            _logger.LogWarning(
                "Sequence {RequestId}.{Index} was preempted and swapped out to host memory ({Blocks} blocks) because the KV cache ran out of blocks ({Total} blocks, {Preemptions} preemptions so far). Raise {Option} or lower MaxNumSeqs / MaxNumBatchedTokens to avoid the copies.",
                victim.RequestId, victim.Index, blocks, Kv.Pool.NumBlocks, NumPreemptions, _options.KvCacheOptionName);
            return;
        }
        Free(victim);
        victim.Status = SequenceStatus.Waiting;
        NumRecomputePreemptions++;
        if (wanted)
            _logger.LogWarning("The swap space is full ({Free} of {Host} host blocks free); sequence {RequestId}.{Index} is recomputed instead. Raise {SwapOption}.",
                Kv.Host!.NumFree, Kv.Host.NumBlocks, victim.RequestId, victim.Index, _options.SwapOptionName);
        // Preempted sequences are older than anything waiting: they go first, oldest first.
        int at = 0;
        while (at < _waiting.Count && _waiting[at].ArrivalOrder < victim.ArrivalOrder) at++;
        _waiting.Insert(at, victim);
        _logger.LogWarning(
            "Sequence {RequestId}.{Index} was preempted (recompute) because the KV cache ran out of blocks ({Total} blocks, {Preemptions} preemptions so far). Raise {Option} or lower MaxNumSeqs / MaxNumBatchedTokens to avoid the recomputation.",
            victim.RequestId, victim.Index, Kv.Pool.NumBlocks, NumPreemptions, _options.KvCacheOptionName);
    }
}
