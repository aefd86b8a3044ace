using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using PagedAttention.Server.Protocol;

namespace PagedAttention.Server.Tenancy;

/// <summary>
/// Maps <c>Authorization: Bearer KEY</c> to a <see cref="Tenant"/>. Keys are looked up by their SHA-256 (the lookup's
/// timing says nothing about a key's characters). Each tenant's prefix-cache salt is
/// HMAC-SHA256(server secret, 4-byte big-endian length ‖ UTF-8 tenant id), so tenants never share KV blocks and a
/// client cannot choose another tenant's namespace. With no keys configured there is one anonymous tenant, for
/// loopback clients only.
/// </summary>
internal sealed class TenantResolver
{
    public const string AnonymousId = "anonymous";

    private readonly Dictionary<string, Tenant> _byKeyHash = new(StringComparer.Ordinal);
    private readonly string? _metricsKeyHash;
    private readonly Tenant _anonymous;

    public TenantResolver(OpenAIServerOptions options)
    {
        byte[] secret = options.CacheSaltSecret is { Length: > 0 } s ? Encoding.UTF8.GetBytes(s) : RandomNumberGenerator.GetBytes(32);
        var tenants = new Dictionary<string, Tenant>(StringComparer.Ordinal);
        foreach (var k in options.ApiKeys)
        {
            if (!tenants.TryGetValue(k.Tenant, out var t))
                tenants[k.Tenant] = t = new Tenant(k.Tenant, Salt(secret, k.Tenant), k.RequestsPerMinute ?? options.RequestsPerMinute);
            _byKeyHash[Hash(k.Key)] = t;
        }
        KeysConfigured = _byKeyHash.Count > 0;
        _metricsKeyHash = options.MetricsApiKey is { } m ? Hash(m) : null;
        _anonymous = new Tenant(AnonymousId, null, options.RequestsPerMinute);
    }

    /// <summary>Whether API keys are configured (else: anonymous, loopback only).</summary>
    public bool KeysConfigured { get; }

    /// <summary>The request's tenant; 401 for a missing or unknown key, or a non-loopback client without keys configured.</summary>
    public Tenant Resolve(HttpContext http)
    {
        if (!KeysConfigured)
        {
            if (!IsLoopback(http)) throw Unauthorized("No API keys are configured, so this server serves loopback clients only; configure Server:ApiKeys to serve others.");
            return _anonymous;
        }
        string? key = Bearer(http) ?? throw Unauthorized("Missing API key: send 'Authorization: Bearer YOUR_KEY'.");
        return _byKeyHash.TryGetValue(Hash(key), out var t) ? t : throw Unauthorized("Incorrect API key provided.");
    }

    /// <summary>Whether the request may read /metrics: with keys, only with the metrics key; without, loopback only.</summary>
    public bool MayReadMetrics(HttpContext http) =>
        KeysConfigured ? _metricsKeyHash is not null && Bearer(http) is { } key && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(key)), Encoding.ASCII.GetBytes(_metricsKeyHash)) : IsLoopback(http);

    /// <summary>The salt of <paramref name="tenantId"/> under <paramref name="secret"/>: hex of HMAC-SHA256(secret, length-prefixed id).</summary>
    internal static string Salt(byte[] secret, string tenantId)
    {
        byte[] id = Encoding.UTF8.GetBytes(tenantId);
        var message = new byte[4 + id.Length];
        BinaryPrimitives.WriteInt32BigEndian(message, id.Length);
        id.CopyTo(message, 4);
        return "tenant:" + Convert.ToHexString(HMACSHA256.HashData(secret, message));
    }

    private static string Hash(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static string? Bearer(HttpContext http)
    {
        string? header = http.Request.Headers.Authorization;
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return null;
        var key = header["Bearer ".Length..].Trim();
        return key.Length == 0 ? null : key;
    }

    private static bool IsLoopback(HttpContext http) => http.Connection.RemoteIpAddress is not { } ip || IPAddress.IsLoopback(ip);

    private static OpenAIException Unauthorized(string message) => new(401, message, "invalid_request_error", null, "invalid_api_key");
}
