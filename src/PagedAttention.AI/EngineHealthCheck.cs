using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace PagedAttention.AI;

/// <summary>
/// Health of one registration's engine: Unhealthy when its load failed, its step loop died or it was disposed;
/// Degraded while it loads; Healthy when it runs (with its load in the data) or has not been asked for yet
/// (<c>LoadOnStart = false</c>).
/// </summary>
internal sealed class EngineHealthCheck(EngineHost host) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var load = host.Load;
        HealthCheckResult result;
        if (load is null) result = HealthCheckResult.Healthy("The model is not loaded yet; it loads on first use.");
        else if (!load.IsCompleted) result = HealthCheckResult.Degraded("The model is loading.");
        else if (!load.IsCompletedSuccessfully)
        {
            var e = load.Exception?.InnerException;
            result = HealthCheckResult.Unhealthy($"The model failed to load: {e?.Message ?? "cancelled"}", e);
        }
        else
        {
            var engine = load.Result;
            if (engine.IsDisposed) result = HealthCheckResult.Unhealthy("The engine has been disposed.");
            else if (engine.LoopFailure is { } failure) result = HealthCheckResult.Unhealthy($"The engine's step loop failed: {failure.Message}", failure);
            else
            {
                var m = engine.GetMetrics();
                result = HealthCheckResult.Healthy($"{engine.Model.Directory} on {engine.Device}", new Dictionary<string, object>
                {
                    ["running"] = m.Running,
                    ["waiting"] = m.Waiting,
                    ["kv_blocks_total"] = m.KvBlocksTotal,
                    ["kv_blocks_free"] = m.KvBlocksFree,
                });
            }
        }
        return Task.FromResult(result);
    }
}
