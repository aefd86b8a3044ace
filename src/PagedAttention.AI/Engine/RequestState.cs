using System.Threading.Channels;

namespace PagedAttention.AI.Engine;

/// <summary>
/// One submitted request: its n sequences and the channel its outputs stream through. The step loop is the only
/// writer; the consumer may ask for an abort from any thread, which the loop carries out at its next step.
/// </summary>
internal sealed class RequestState
{
    private int _abortRequested;

    public RequestState(long id)
    {
        Id = id;
        Channel = System.Threading.Channels.Channel.CreateUnbounded<GenerationOutput>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    }

    public long Id { get; }

    public Channel<GenerationOutput> Channel { get; }

    public EngineSequence[] Sequences { get; set; } = [];

    /// <summary>Sequences not finished yet; the channel completes when this reaches 0.</summary>
    public int Remaining { get; set; }

    /// <summary>The beam search of this request (<see cref="Sampling.SamplingParams.BeamWidth"/> &gt; 1), or null.</summary>
    public BeamGroup? Beam { get; set; }

    /// <summary>The pin this request computes (<see cref="LlmEngine.PinPrefixAsync"/>), or null for an ordinary request.</summary>
    public PrefixPin? Pin { get; set; }

    /// <summary>True once finished, aborted or failed: the loop ignores it from then on.</summary>
    public bool Done { get; set; }

    private int _unread;

    /// <summary>Outputs written and not read yet (the channel of a single reader cannot count them itself).</summary>
    public int Unread => Volatile.Read(ref _unread);

    /// <summary>The loop wrote an output.</summary>
    public void Wrote() => Interlocked.Increment(ref _unread);

    /// <summary>The consumer read an output.</summary>
    public void Read() => Interlocked.Decrement(ref _unread);

    /// <summary>Marks the request for abort; true only for the first call.</summary>
    public bool TryRequestAbort() => Interlocked.Exchange(ref _abortRequested, 1) == 0;
}
