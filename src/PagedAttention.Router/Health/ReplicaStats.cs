using System.Collections.Concurrent;

namespace PagedAttention.Router.Health;

/// <summary>Per-replica counters the router reports on <c>/router/replicas</c>: proxied, failed, retried, spilled.</summary>
internal sealed class ReplicaStats
{
    private readonly ConcurrentDictionary<string, Counters> _counters = new(StringComparer.Ordinal);

    /// <summary>A request was proxied to <paramref name="destinationId"/> (whatever the outcome).</summary>
    public void Proxied(string destinationId, bool failed)
    {
        var c = Get(destinationId);
        Interlocked.Increment(ref c.Requests);
        if (failed)
        {
            Interlocked.Increment(ref c.Failures);
        }
    }

    /// <summary>A request was sent to <paramref name="destinationId"/> because its owner on the ring was full.</summary>
    public void Spilled(string destinationId) => Interlocked.Increment(ref Get(destinationId).SpilledIn);

    /// <summary>A request whose connection to <paramref name="destinationId"/> failed was retried on another replica.</summary>
    public void Retried(string destinationId) => Interlocked.Increment(ref Get(destinationId).RetriedAway);

    /// <summary>A replica's counters so far.</summary>
    public (long Requests, long Failures, long SpilledIn, long RetriedAway) Snapshot(string destinationId)
    {
        var c = Get(destinationId);
        return (Volatile.Read(ref c.Requests), Volatile.Read(ref c.Failures), Volatile.Read(ref c.SpilledIn), Volatile.Read(ref c.RetriedAway));
    }

    private Counters Get(string destinationId) => _counters.GetOrAdd(destinationId, static _ => new Counters());

    private sealed class Counters
    {
        public long Requests;
        public long Failures;
        public long SpilledIn;
        public long RetriedAway;
    }
}
