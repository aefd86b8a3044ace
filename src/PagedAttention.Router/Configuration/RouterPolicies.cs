namespace PagedAttention.Router.Configuration;

/// <summary>The load-balancing policy names <see cref="RouterOptions.Policy"/> accepts.</summary>
internal static class RouterPolicies
{
    /// <summary>Bounded-load consistent hashing of the prompt prefix (Routing/PrefixAffinityPolicy).</summary>
    public const string PrefixAffinity = "PrefixAffinity";

    /// <summary>YARP's round-robin: the comparison policy.</summary>
    public const string RoundRobin = "RoundRobin";

    /// <summary>Every accepted name: ours and YARP's built-in ones.</summary>
    public static readonly IReadOnlyList<string> All =
        [PrefixAffinity, RoundRobin, "LeastRequests", "PowerOfTwoChoices", "Random", "FirstAlphabetical"];

    /// <summary>The name in <see cref="All"/> that equals <paramref name="name"/> ignoring case, or null.</summary>
    public static string? Canonical(string? name) =>
        name is null ? null : All.FirstOrDefault(n => string.Equals(n, name.Trim(), StringComparison.OrdinalIgnoreCase));
}
