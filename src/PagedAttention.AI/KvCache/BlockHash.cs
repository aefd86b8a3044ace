using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace PagedAttention.AI.KvCache;

/// <summary>
/// 128-bit identity of a full KV block: SHA-256 (truncated) over the parent block's hash and this block's tokens.
/// Because the parent hash is chained in, equal hashes mean equal whole token histories (up to a 2^-64 birthday
/// bound), which is why no token comparison is needed on a hit. Extra keys (tenant salt, per-request isolation)
/// enter through the root hash that the first block chains on.
/// </summary>
internal readonly record struct BlockHash(ulong Lo, ulong Hi)
{
    /// <summary>The root of every chain without extra keys.</summary>
    public static readonly BlockHash None = new(0x6a09e667f3bcc908UL, 0xbb67ae8584caa73bUL);

    /// <summary>Root hash for a chain with extra keys (e.g. a cache salt); null or empty salt gives <see cref="None"/>.</summary>
    public static BlockHash Root(string? cacheSalt)
    {
        if (string.IsNullOrEmpty(cacheSalt)) return None;
        byte[] bytes = Encoding.UTF8.GetBytes("salt:" + cacheSalt);
        return FromDigest(SHA256.HashData(bytes));
    }

    /// <summary>Root hash private to one request (prefix caching off: only its own n samples may share blocks).</summary>
    public static BlockHash Private(long requestId)
    {
        Span<byte> buf = stackalloc byte[16];
        BitConverter.TryWriteBytes(buf, requestId);
        BitConverter.TryWriteBytes(buf[8..], 0x7072697661746521L);
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(buf, digest);
        return FromDigest(digest);
    }

    /// <summary>Hash of one full block given its parent's hash. Allocates nothing.</summary>
    public static BlockHash Compute(in BlockHash parent, ReadOnlySpan<int> blockTokens)
    {
        int len = 16 + blockTokens.Length * sizeof(int);
        Span<byte> buf = len <= 1024 ? stackalloc byte[1024] : new byte[len];
        BitConverter.TryWriteBytes(buf, parent.Lo);
        BitConverter.TryWriteBytes(buf[8..], parent.Hi);
        MemoryMarshal.AsBytes(blockTokens).CopyTo(buf[16..]);
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(buf[..len], digest);
        return FromDigest(digest);
    }

    private static BlockHash FromDigest(ReadOnlySpan<byte> d) =>
        new(BitConverter.ToUInt64(d), BitConverter.ToUInt64(d[8..]));
}
