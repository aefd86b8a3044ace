using PagedAttention.Router.Configuration;
using PagedAttention.Router.Routing;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace PagedAttention.Router.Health;

/// <summary>
/// Wraps load balancing and forwarding: when the connection to the picked replica fails before any response (and
/// before any body byte past the buffered prefix was sent), the request is sent to the next pick among the replicas
/// not yet tried, up to <see cref="RouterOptions.MaxAttempts"/>. So a replica that died between two health probes
/// costs the requests routed to it a retry, not an error. A response that has begun is never retried.
/// </summary>
internal sealed class ConnectFailureRetryMiddleware(RequestDelegate next, RouterOptions options, ReplicaStats stats, ILogger<ConnectFailureRetryMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var proxy = context.GetReverseProxyFeature();
        var candidates = proxy.AvailableDestinations;
        List<DestinationState>? tried = null;
        for (var attempt = 1; ; attempt++)
        {
            await next(context).ConfigureAwait(false);

            var error = context.Features.Get<IForwarderErrorFeature>();
            if (error?.Error != ForwarderError.Request || attempt >= options.MaxAttempts || context.Response.HasStarted ||
                context.RequestAborted.IsCancellationRequested || proxy.ProxiedDestination is not { } failed || !Rewind(context))
            {
                return;
            }

            tried ??= [];
            tried.Add(failed);
            var remaining = candidates.Where(d => !tried.Contains(d)).ToList();
            if (remaining.Count == 0)
            {
                return;
            }

            stats.Retried(failed.DestinationId);
            logger.LogInformation("Connecting to replica {Replica} failed ({Message}); retrying the request on another replica (attempt {Attempt}).",
                failed.DestinationId, error.Exception?.Message, attempt + 1);
            context.Response.Clear();
            context.Features.Set<IForwarderErrorFeature>(null);
            proxy.ProxiedDestination = null;
            proxy.AvailableDestinations = remaining;
        }
    }

    private static bool Rewind(HttpContext context) => context.Request.Body switch
    {
        ReplayableBodyStream replay => replay.TryRewind(),
        _ => context.Request.ContentLength is null or 0 && !HttpMethods.IsPost(context.Request.Method) && !HttpMethods.IsPut(context.Request.Method),
    };
}
