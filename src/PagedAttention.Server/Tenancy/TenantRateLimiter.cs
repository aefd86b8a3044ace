using System.Threading.RateLimiting;
using PagedAttention.Server.Protocol;

namespace PagedAttention.Server.Tenancy;

/// <summary>
/// Per-tenant request rate: a token bucket per tenant from System.Threading.RateLimiting (the limiter ASP.NET Core's
/// rate-limiting middleware runs), applied inside the endpoints so that it sees the tenant the key resolved to and
/// works without any middleware ordering in the host app. Refusals are 429 with Retry-After.
/// </summary>
internal sealed class TenantRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<Tenant> _limiter = PartitionedRateLimiter.Create<Tenant, string>(t =>
        t.RequestsPerMinute <= 0
            ? RateLimitPartition.GetNoLimiter(t.Id)
            : RateLimitPartition.GetTokenBucketLimiter(t.Id, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = t.RequestsPerMinute,
                TokensPerPeriod = 1,
                ReplenishmentPeriod = TimeSpan.FromMinutes(1.0 / t.RequestsPerMinute),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));

    /// <summary>Takes one request's permit for <paramref name="tenant"/> or throws 429.</summary>
    public void Acquire(Tenant tenant)
    {
        using var lease = _limiter.AttemptAcquire(tenant);
        if (lease.IsAcquired) return;
        var after = lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? retry : TimeSpan.FromSeconds(1);
        throw new OpenAIException(429, $"Rate limit reached for tenant '{tenant.Id}': {tenant.RequestsPerMinute} requests per minute.", "rate_limit_error", null, "rate_limit_exceeded", after);
    }

    public void Dispose() => _limiter.Dispose();
}
