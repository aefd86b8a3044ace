using PagedAttention.Router.Configuration;
using PagedAttention.Router.Health;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace PagedAttention.Router.Routing;

/// <summary>
/// YARP load balancing by prompt prefix: the request's <see cref="PrefixKeyFeature"/> hash is placed on a
/// <see cref="ConsistentHashRing"/> of every configured replica (identified by address), and the request goes to the
/// first available replica clockwise whose in-flight count stays within
/// max(<see cref="RouterOptions.MinSpillLoad"/>, ⌈(1+ε)·(in flight + 1)/available⌉). Unavailable (ejected) replicas are
/// skipped, so their keys move to the next replica on the ring and nothing else moves. A request without a key
/// (not a JSON body with messages or a prompt) goes to the least-loaded available replica. When the owner is full, a
/// replica that was sent the key before (and so caches its prefix) is preferred, if it has room, over a fresh one
/// further on the ring: a group's overflow stays on as few replicas as the load allows.
/// </summary>
internal sealed class PrefixAffinityPolicy(RouterOptions options, ReplicaStats stats) : ILoadBalancingPolicy
{
    /// <summary>How many keys the policy remembers the replicas of (the replicas that hold their prefix).</summary>
    internal const int MaxTrackedKeys = 1 << 16;

    private RingSnapshot? _snapshot;
    private int _next;

    public string Name => RouterPolicies.PrefixAffinity;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        if (availableDestinations.Count == 0)
        {
            return null;
        }

        if (context.Features.Get<PrefixKeyFeature>() is not { } key)
        {
            return LeastLoaded(availableDestinations);
        }

        var snapshot = GetSnapshot(cluster);
        var all = snapshot.Destinations;
        var available = new bool[all.Length];
        var total = 0;
        foreach (var destination in availableDestinations)
        {
            var i = Array.IndexOf(all, destination);
            if (i >= 0)
            {
                available[i] = true;
                total += destination.ConcurrentRequestCount;
            }
        }

        var capacity = ConsistentHashRing.Capacity(total, availableDestinations.Count, options.LoadFactor, options.MinSpillLoad);
        var servedBefore = snapshot.Served.TryGetValue(key.Hash, out var mask) ? mask : 0UL;
        var pick = snapshot.Ring.Pick(key.Hash, i => all[i].ConcurrentRequestCount, i => available[i], capacity,
            servedBefore == 0 ? null : i => i < 64 && (servedBefore & (1UL << i)) != 0);
        if (pick < 0)
        {
            return LeastLoaded(availableDestinations); // the ring is stale against the available list: never refuse
        }

        if (pick < 64 && (servedBefore & (1UL << pick)) == 0)
        {
            if (snapshot.Served.Count >= MaxTrackedKeys)
            {
                snapshot.Served.Clear(); // bounded memory: forgetting only costs a spill a fresh replica
            }

            snapshot.Served.AddOrUpdate(key.Hash, 1UL << pick, (_, m) => m | (1UL << pick));
        }

        // A spill: the key's owner (or, when the owner is ejected, its successor on the ring) was full.
        var owner = snapshot.Ring.Sequence(key.Hash).First(i => available[i]);
        if (pick != owner)
        {
            stats.Spilled(all[pick].DestinationId);
        }

        return all[pick];
    }

    private DestinationState LeastLoaded(IReadOnlyList<DestinationState> destinations)
    {
        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)destinations.Count);
        var best = destinations[start];
        for (var k = 1; k < destinations.Count; k++)
        {
            var d = destinations[(start + k) % destinations.Count];
            if (d.ConcurrentRequestCount < best.ConcurrentRequestCount)
            {
                best = d;
            }
        }

        return best;
    }

    private RingSnapshot GetSnapshot(ClusterState cluster)
    {
        var all = cluster.DestinationsState.AllDestinations;
        var snapshot = Volatile.Read(ref _snapshot);
        if (snapshot is not null && ReferenceEquals(snapshot.Source, all))
        {
            return snapshot;
        }

        var destinations = all.ToArray();
        var members = destinations.Select(d => NormalizeAddress(d.Model.Config.Address)).ToArray();
        snapshot = new RingSnapshot(all, destinations, new ConsistentHashRing(members, options.VirtualNodes));
        Volatile.Write(ref _snapshot, snapshot);
        return snapshot;
    }

    /// <summary>The ring identity of a replica: its address without a trailing slash, lower-case scheme and host.</summary>
    internal static string NormalizeAddress(string address) =>
        Uri.TryCreate(address, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Path).TrimEnd('/') : address;

    private sealed record RingSnapshot(IReadOnlyList<DestinationState> Source, DestinationState[] Destinations, ConsistentHashRing Ring)
    {
        /// <summary>For each recent key, a bit per replica (by index) that was sent it: those hold its prefix.</summary>
        public System.Collections.Concurrent.ConcurrentDictionary<ulong, ulong> Served { get; } = new();
    }
}
