namespace PagedAttention.Router.Routing;

/// <summary>The routing key found in a request body, set by <see cref="RequestBodyPrefixMiddleware"/>.</summary>
internal sealed class PrefixKeyFeature(ulong hash, int keyLength)
{
    /// <summary>The 64-bit hash of the key (<see cref="ConsistentHashRing.Hash"/>).</summary>
    public ulong Hash { get; } = hash;

    /// <summary>How many bytes the key had.</summary>
    public int KeyLength { get; } = keyLength;
}
