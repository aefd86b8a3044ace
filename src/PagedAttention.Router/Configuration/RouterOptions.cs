namespace PagedAttention.Router.Configuration;

/// <summary>
/// The router's settings, bound from the <c>Router</c> section of the configuration (appsettings.json, environment
/// variables <c>Router__Policy</c>, command line <c>--Router:Policy</c>, or the short switches of
/// RouterApplication). docs/router.md describes each one.
/// </summary>
internal sealed class RouterOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "Router";

    /// <summary>The replica base addresses (<c>http://host:port</c>), one per PagedAttention.Server process.</summary>
    public List<string> Replicas { get; set; } = [];

    /// <summary><see cref="RouterPolicies.PrefixAffinity"/> (default) or one of YARP's built-in policies, e.g. <c>RoundRobin</c>.</summary>
    public string Policy { get; set; } = RouterPolicies.PrefixAffinity;

    /// <summary>ε of the bounded-load ring: a replica whose in-flight count would exceed (1+ε) × the mean spills to the next one.</summary>
    public double LoadFactor { get; set; } = 1.0;

    /// <summary>A replica with fewer in-flight requests than this never spills, however uneven the load (low-load floor).</summary>
    public int MinSpillLoad { get; set; } = 8;

    /// <summary>How many bytes of the prompt prefix (UTF-8 text, or 4 bytes per token id) are hashed.</summary>
    public int PrefixBytes { get; set; } = 4096;

    /// <summary>How many bytes of a request body are read (buffered) at most to find the prefix; the rest streams through.</summary>
    public int InspectBytes { get; set; } = 64 * 1024;

    /// <summary>Virtual nodes per replica on the hash ring.</summary>
    public int VirtualNodes { get; set; } = 160;

    /// <summary>How often each replica's <c>/health</c> is probed.</summary>
    public TimeSpan HealthCheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one probe may take before it counts as a failure.</summary>
    public TimeSpan HealthCheckTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Consecutive failed probes that make a replica unhealthy (YARP's ConsecutiveFailures policy).</summary>
    public int HealthCheckFailureThreshold { get; set; } = 2;

    /// <summary>How long a replica ejected by the passive check (a failed connection) stays out before it is tried again.</summary>
    public TimeSpan ReactivationPeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a proxied request may stay idle (no bytes either way) before it is cancelled.</summary>
    public TimeSpan ActivityTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How many replicas one request may be tried on when connecting fails before any byte was sent.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Checks the values; throws <see cref="InvalidOperationException"/> naming the first bad one.</summary>
    public void Validate()
    {
        if (Replicas.Count == 0)
        {
            throw new InvalidOperationException(
                "No replicas are configured: set Router:Replicas (e.g. --replicas http://127.0.0.1:8001,http://127.0.0.1:8002).");
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var replica in Replicas)
        {
            if (!Uri.TryCreate(replica, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new InvalidOperationException($"Router:Replicas has '{replica}', which is not an absolute http(s) address.");
            }

            if (!seen.Add(uri.GetLeftPart(UriPartial.Path).TrimEnd('/')))
            {
                throw new InvalidOperationException($"Router:Replicas lists '{replica}' twice.");
            }
        }

        if (RouterPolicies.Canonical(Policy) is not { } policy)
        {
            throw new InvalidOperationException(
                $"Router:Policy '{Policy}' is unknown; use one of {string.Join(", ", RouterPolicies.All)}.");
        }

        Policy = policy;

        Check(double.IsFinite(LoadFactor) && LoadFactor >= 0 && LoadFactor <= 100, nameof(LoadFactor), "a number in [0, 100]");
        Check(MinSpillLoad is >= 0 and <= 1_000_000, nameof(MinSpillLoad), "in [0, 1000000]");
        Check(PrefixBytes is >= 16 and <= 1024 * 1024, nameof(PrefixBytes), "in [16, 1048576]");
        Check(InspectBytes >= PrefixBytes && InspectBytes <= 16 * 1024 * 1024, nameof(InspectBytes), "in [PrefixBytes, 16777216]");
        Check(VirtualNodes is >= 1 and <= 4096, nameof(VirtualNodes), "in [1, 4096]");
        Check(HealthCheckInterval > TimeSpan.Zero, nameof(HealthCheckInterval), "positive");
        Check(HealthCheckTimeout > TimeSpan.Zero, nameof(HealthCheckTimeout), "positive");
        Check(HealthCheckFailureThreshold is >= 1 and <= 100, nameof(HealthCheckFailureThreshold), "in [1, 100]");
        Check(ReactivationPeriod > TimeSpan.Zero, nameof(ReactivationPeriod), "positive");
        Check(ActivityTimeout > TimeSpan.Zero, nameof(ActivityTimeout), "positive");
        Check(MaxAttempts is >= 1 and <= 16, nameof(MaxAttempts), "in [1, 16]");
    }

    private static void Check(bool ok, string name, string what)
    {
        if (!ok)
        {
            throw new InvalidOperationException($"Router:{name} must be {what}.");
        }
    }
}
