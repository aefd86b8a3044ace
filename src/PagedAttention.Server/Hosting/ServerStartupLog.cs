using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PagedAttention.Server.Tenancy;

namespace PagedAttention.Server.Hosting;

/// <summary>Says at start who may call the server: the tenants configured, or the anonymous loopback-only tenant.</summary>
internal sealed class ServerStartupLog(TenantResolver tenants, Microsoft.Extensions.Options.IOptions<OpenAIServerOptions> options, ILogger<ServerStartupLog> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (tenants.KeysConfigured)
            logger.LogInformation("PagedAttention.Server: {Keys} API keys for {Tenants} tenants; each tenant has its own prefix-cache namespace; /metrics {Metrics}",
                o.ApiKeys.Count, o.ApiKeys.Select(k => k.Tenant).Distinct(StringComparer.Ordinal).Count(), o.MetricsApiKey is null ? "is closed (no Server:MetricsApiKey)" : "needs Server:MetricsApiKey");
        else
            logger.LogWarning("PagedAttention.Server: no API keys configured (Server:ApiKeys): serving one anonymous tenant to loopback clients only; requests from other addresses get 401");
        logger.LogInformation("PagedAttention.Server: limits: body {Body} bytes, {Waiting} waiting sequences beyond the engine's batch, n <= {N}, {Rpm} requests/minute per tenant, request timeout {Timeout}",
            o.MaxRequestBodyBytes, o.MaxWaitingRequests, o.MaxN, o.RequestsPerMinute == 0 ? "unlimited" : o.RequestsPerMinute, o.RequestTimeout);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
