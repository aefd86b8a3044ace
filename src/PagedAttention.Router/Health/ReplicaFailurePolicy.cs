using PagedAttention.Router.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace PagedAttention.Router.Health;

/// <summary>
/// The passive health check: a request whose connection to a replica failed, or whose response broke off on the
/// replica's side, ejects that replica at once for <see cref="RouterOptions.ReactivationPeriod"/> (then the active
/// <c>/health</c> probes decide). Unlike YARP's TransportFailureRate policy, errors caused by the client (a
/// disconnect, a cancelled stream) do not count, so clients that hang up cannot eject a healthy replica.
/// </summary>
internal sealed class ReplicaFailurePolicy(IDestinationHealthUpdater healthUpdater, RouterOptions options, ReplicaStats stats, ILogger<ReplicaFailurePolicy> logger)
    : IPassiveHealthCheckPolicy
{
    /// <summary>The policy's name in the cluster's passive health-check configuration.</summary>
    public const string PolicyName = "ReplicaFailure";

    public string Name => PolicyName;

    public void RequestProxied(HttpContext context, ClusterState cluster, DestinationState destination)
    {
        var error = context.Features.Get<IForwarderErrorFeature>();
        var failed = error is not null && IsReplicaFault(error.Error);
        stats.Proxied(destination.DestinationId, failed);
        if (!failed || destination.Health.Passive == DestinationHealth.Unhealthy)
        {
            return;
        }

        logger.LogWarning(
            "Replica {Replica} ({Address}) ejected for {Period}: {Error} ({Message}); requests go to the next replica on the ring.",
            destination.DestinationId, destination.Model.Config.Address, options.ReactivationPeriod, error!.Error, error.Exception?.Message);
        healthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, options.ReactivationPeriod);
    }

    /// <summary>Whether a forwarding error is the replica's fault (not the client's, not the router's).</summary>
    internal static bool IsReplicaFault(ForwarderError error) => error is
        ForwarderError.Request or ForwarderError.RequestTimedOut or ForwarderError.RequestBodyDestination or ForwarderError.ResponseHeaders or
        ForwarderError.ResponseBodyDestination or ForwarderError.UpgradeResponseDestination;
}
