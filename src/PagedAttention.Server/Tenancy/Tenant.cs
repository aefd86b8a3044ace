namespace PagedAttention.Server.Tenancy;

/// <summary>Who a request is for: the tenant id, its prefix-cache salt (null: the shared namespace) and its rate limit.</summary>
internal sealed record Tenant(string Id, string? CacheSalt, int RequestsPerMinute)
{
    /// <summary>Whether the server derived <see cref="CacheSalt"/> (keys configured): a client's cache_salt is then ignored.</summary>
    public bool SaltIsServers => CacheSalt is not null;
}
