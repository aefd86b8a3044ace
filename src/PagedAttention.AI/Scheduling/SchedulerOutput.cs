namespace PagedAttention.AI.Scheduling;

/// <summary>
/// What one step computes: for each scheduled sequence, how many of its not-yet-computed tokens. Reused from step
/// to step (no allocation); valid until the next <c>Scheduler.Schedule(output)</c> fills it again.
/// </summary>
internal sealed class SchedulerOutput<TSeq> where TSeq : ScheduledSequence
{
    private readonly TSeq[] _seqs;
    private readonly int[] _numTokens;

    public SchedulerOutput(int maxNumSeqs)
    {
        _seqs = new TSeq[maxNumSeqs];
        _numTokens = new int[maxNumSeqs];
    }

    /// <summary>Scheduled sequences this step.</summary>
    public int Count { get; private set; }

    /// <summary>Sum of scheduled tokens.</summary>
    public int TotalTokens { get; private set; }

    /// <summary>Sequences preempted while building this step.</summary>
    public int NumPreempted { get; internal set; }

    public TSeq Seq(int i) => _seqs[i];

    public int NumTokens(int i) => _numTokens[i];

    /// <summary>
    /// True when sequence <paramref name="i"/>'s chunk reaches its last known token, so its logits are sampled;
    /// false for a prefill chunk that stops midway.
    /// </summary>
    public bool Samples(int i) => _seqs[i].NumComputedTokens + _numTokens[i] == _seqs[i].NumTokens;

    internal void Clear()
    {
        Array.Clear(_seqs, 0, Count);
        Count = 0;
        TotalTokens = 0;
        NumPreempted = 0;
    }

    internal void Add(TSeq seq, int numTokens)
    {
        _seqs[Count] = seq;
        _numTokens[Count] = numTokens;
        Count++;
        TotalTokens += numTokens;
    }

    /// <summary>Index of <paramref name="seq"/> in this step, or -1.</summary>
    public int IndexOf(TSeq seq)
    {
        for (int i = 0; i < Count; i++) if (ReferenceEquals(_seqs[i], seq)) return i;
        return -1;
    }
}
