namespace PagedAttention.AI.Requests;

/// <summary>Where a sequence is in its life.</summary>
internal enum SequenceStatus
{
    /// <summary>Queued; holds no blocks (new, or preempted and to be recomputed).</summary>
    Waiting,

    /// <summary>Holds blocks and advances every step it is scheduled.</summary>
    Running,

    /// <summary>Preempted by swapping: its KV is in host memory (its computed tokens kept), to be copied back before new requests are admitted.</summary>
    Swapped,

    /// <summary>Done (stopped, length, aborted or failed); its blocks are freed.</summary>
    Finished,
}
