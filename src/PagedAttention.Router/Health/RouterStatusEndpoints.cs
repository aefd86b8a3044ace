using PagedAttention.Router.Configuration;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace PagedAttention.Router.Health;

/// <summary>
/// The router's own endpoints: <c>GET /health</c> (200 while at least one replica is available, else 503) and
/// <c>GET /router/replicas</c> (each replica's address, active and passive health, availability, in-flight count and
/// counters), so that an operator sees which replica was ejected and why traffic moved.
/// </summary>
internal static class RouterStatusEndpoints
{
    /// <summary>The YARP cluster id the replicas form.</summary>
    public const string ClusterId = "replicas";

    /// <summary>Maps the endpoints.</summary>
    public static void MapRouterStatus(this WebApplication app)
    {
        app.MapGet("/health", (IProxyStateLookup state) =>
        {
            var (available, total) = Counts(state);
            return Results.Json(
                new { status = available > 0 ? "healthy" : "unavailable", available, total },
                statusCode: available > 0 ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });

        app.MapGet("/router/replicas", (IProxyStateLookup state, RouterOptions options, ReplicaStats stats) =>
        {
            var replicas = new List<object>();
            if (state.TryGetCluster(ClusterId, out var cluster))
            {
                var available = cluster.DestinationsState.AvailableDestinations;
                foreach (var d in cluster.DestinationsState.AllDestinations.OrderBy(d => d.DestinationId, StringComparer.Ordinal))
                {
                    var s = stats.Snapshot(d.DestinationId);
                    replicas.Add(new
                    {
                        id = d.DestinationId,
                        address = d.Model.Config.Address,
                        available = available.Contains(d),
                        active = d.Health.Active.ToString(),
                        passive = d.Health.Passive.ToString(),
                        inFlight = d.ConcurrentRequestCount,
                        requests = s.Requests,
                        failures = s.Failures,
                        spilledIn = s.SpilledIn,
                        retriedAway = s.RetriedAway,
                    });
                }
            }

            return Results.Json(new { policy = options.Policy, loadFactor = options.LoadFactor, minSpillLoad = options.MinSpillLoad, prefixBytes = options.PrefixBytes, replicas });
        });
    }

    private static (int Available, int Total) Counts(IProxyStateLookup state) =>
        state.TryGetCluster(ClusterId, out ClusterState? cluster)
            ? (cluster.DestinationsState.AvailableDestinations.Count, cluster.DestinationsState.AllDestinations.Count)
            : (0, 0);
}
