namespace PagedAttention.Server;

/// <summary>
/// The OpenAI server's options (configuration section "Server": appsettings.json, environment variables
/// <c>Server__ApiKeys__0__Key</c>…, command line <c>--Server:MaxWaitingRequests=64</c>). docs/server.md lists them.
/// </summary>
public sealed class OpenAIServerOptions
{
    /// <summary>The configuration section the server binds: "Server".</summary>
    public const string SectionName = "Server";

    /// <summary>The model id served and accepted in "model"; null: the chat client's (the model directory's name).</summary>
    public string? ModelId { get; set; }

    /// <summary>
    /// API keys and the tenant each belongs to. Empty (default): one anonymous tenant, served to loopback clients only.
    /// Configured: every request needs <c>Authorization: Bearer KEY</c>, and each tenant gets its own prefix-cache
    /// namespace (a salt derived from <see cref="CacheSaltSecret"/> and the tenant id; a client's cache_salt is ignored).
    /// </summary>
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];

    /// <summary>
    /// The secret the tenants' prefix-cache salts are derived from (HMAC-SHA256). Null: a random one per process, which is
    /// enough since the cache lives in the process; set it when several processes should agree (it never leaves the server).
    /// </summary>
    public string? CacheSaltSecret { get; set; }

    /// <summary>With API keys configured, the key <c>/metrics</c> needs (Bearer); null: <c>/metrics</c> answers 401 to everyone. Without keys, /metrics is open to loopback.</summary>
    public string? MetricsApiKey { get; set; }

    /// <summary>Requests per minute a tenant may start (token bucket; a key's own <see cref="ApiKeyOptions.RequestsPerMinute"/> wins); 0: unlimited.</summary>
    public int RequestsPerMinute { get; set; }

    /// <summary>
    /// Sequences (n of each request) admitted beyond the engine's <c>MaxNumSeqs</c> before new requests are refused with
    /// 503 and Retry-After: the bounded waiting queue. Default 256.
    /// </summary>
    public int MaxWaitingRequests { get; set; } = 256;

    /// <summary>Largest request body in bytes (413 above). Default 4 MiB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 4 << 20;

    /// <summary>Largest n a request may ask for (the engine's MaxNumSeqs caps it too). Default 16.</summary>
    public int MaxN { get; set; } = 16;

    /// <summary>Longest a completion request may run before it is cancelled (its engine request aborted). Default 10 minutes.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// After a forward pass fails (a device fault: its step's requests get errors), /health answers 503 and new requests
    /// are refused with 503 for this long, so a load balancer takes the replica out while the device fails. Default 30 s.
    /// </summary>
    public TimeSpan FaultCooldown { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Seconds sent in Retry-After with 503 (queue full). Default 1.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (ApiKeys is null) throw new ArgumentException("Server:ApiKeys must not be null.", nameof(ApiKeys));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var k in ApiKeys)
        {
            if (k is null || string.IsNullOrEmpty(k.Key)) throw new ArgumentException("Server:ApiKeys: every entry needs a non-empty Key.", nameof(ApiKeys));
            if (k.Key.Length < 8) throw new ArgumentException("Server:ApiKeys: keys must be at least 8 characters.", nameof(ApiKeys));
            if (string.IsNullOrEmpty(k.Tenant)) throw new ArgumentException("Server:ApiKeys: every entry needs a non-empty Tenant.", nameof(ApiKeys));
            if (!seen.Add(k.Key)) throw new ArgumentException("Server:ApiKeys: a key is listed twice.", nameof(ApiKeys));
            if (k.RequestsPerMinute is < 0) throw new ArgumentException("Server:ApiKeys: RequestsPerMinute must be >= 0.", nameof(ApiKeys));
        }
        if (MetricsApiKey is { Length: < 8 }) throw new ArgumentException("Server:MetricsApiKey must be at least 8 characters.", nameof(MetricsApiKey));
        if (RequestsPerMinute < 0) throw new ArgumentException("Server:RequestsPerMinute must be >= 0.", nameof(RequestsPerMinute));
        if (MaxWaitingRequests < 0) throw new ArgumentException("Server:MaxWaitingRequests must be >= 0.", nameof(MaxWaitingRequests));
        if (MaxRequestBodyBytes < 1024) throw new ArgumentException("Server:MaxRequestBodyBytes must be >= 1024.", nameof(MaxRequestBodyBytes));
        if (MaxN < 1) throw new ArgumentException("Server:MaxN must be >= 1.", nameof(MaxN));
        if (RequestTimeout <= TimeSpan.Zero) throw new ArgumentException("Server:RequestTimeout must be > 0.", nameof(RequestTimeout));
        if (FaultCooldown < TimeSpan.Zero) throw new ArgumentException("Server:FaultCooldown must be >= 0.", nameof(FaultCooldown));
        if (RetryAfterSeconds < 1) throw new ArgumentException("Server:RetryAfterSeconds must be >= 1.", nameof(RetryAfterSeconds));
    }
}
