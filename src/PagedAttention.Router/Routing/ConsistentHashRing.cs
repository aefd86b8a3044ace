using System.Security.Cryptography;
using System.Text;

namespace PagedAttention.Router.Routing;

/// <summary>
/// A consistent-hash ring over a set of members (replica identities), with <c>virtualNodes</c> points per member,
/// and the bounded-load walk of Mirrokni, Thorup and Zadimoghaddam ("Consistent Hashing with Bounded Loads", 2018):
/// a key goes to the first member clockwise from its hash whose load stays within the capacity, so a hot key spills
/// to the next member on the ring (always the same next one for the same key) instead of overloading its owner. A
/// spill may prefer members that served the key before (they cache its prefix) over fresh ones further on.
/// Immutable and thread-safe. Point positions depend only on the member strings, so removing a member moves only the
/// keys it owned, and two routers (or one restarted) with the same members agree.
/// </summary>
internal sealed class ConsistentHashRing
{
    private readonly ulong[] _points;
    private readonly int[] _owners;

    /// <summary>Builds the ring; <paramref name="members"/> must be distinct.</summary>
    public ConsistentHashRing(IReadOnlyList<string> members, int virtualNodes)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentOutOfRangeException.ThrowIfLessThan(virtualNodes, 1);
        if (members.Count == 0)
        {
            throw new ArgumentException("A ring needs at least one member.", nameof(members));
        }

        if (members.Distinct(StringComparer.Ordinal).Count() != members.Count)
        {
            throw new ArgumentException("Ring members must be distinct.", nameof(members));
        }

        Members = members.ToArray();
        var points = new (ulong Point, int Owner)[members.Count * virtualNodes];
        for (var m = 0; m < members.Count; m++)
        {
            for (var v = 0; v < virtualNodes; v++)
            {
                points[m * virtualNodes + v] = (Hash(Encoding.UTF8.GetBytes($"{members[m]}#{v}")), m);
            }
        }

        // Ties (astronomically unlikely with 64-bit points) are broken by the member string, not by list order.
        Array.Sort(points, (a, b) => a.Point != b.Point ? a.Point.CompareTo(b.Point) : string.CompareOrdinal(Members[a.Owner], Members[b.Owner]));
        _points = new ulong[points.Length];
        _owners = new int[points.Length];
        for (var i = 0; i < points.Length; i++)
        {
            _points[i] = points[i].Point;
            _owners[i] = points[i].Owner;
        }
    }

    /// <summary>The members, in the order given (the indices <see cref="Owner"/> and <see cref="Pick"/> return).</summary>
    public IReadOnlyList<string> Members { get; }

    /// <summary>A stable 64-bit hash (the first 8 bytes of SHA-256): the same on every machine and process.</summary>
    public static ulong Hash(ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(data, digest);
        return BitConverter.ToUInt64(digest);
    }

    /// <summary>The member that owns <paramref name="keyHash"/> when loads are ignored.</summary>
    public int Owner(ulong keyHash) => _owners[FirstPoint(keyHash)];

    /// <summary>
    /// The members in the order a key visits them: its owner first, then each further distinct member clockwise.
    /// </summary>
    public int[] Sequence(ulong keyHash)
    {
        var order = new int[Members.Count];
        var seen = new bool[Members.Count];
        var count = 0;
        var start = FirstPoint(keyHash);
        for (var i = 0; i < _points.Length && count < order.Length; i++)
        {
            var owner = _owners[(start + i) % _points.Length];
            if (!seen[owner])
            {
                seen[owner] = true;
                order[count++] = owner;
            }
        }

        return order;
    }

    /// <summary>
    /// The bounded-load pick: the first eligible member clockwise from <paramref name="keyHash"/> (the owner, or its
    /// successor when the owner is not eligible) if its load plus this request stays within
    /// <paramref name="capacity"/>; else, walking on, the first member with room that is <paramref name="preferred"/>
    /// (one that served this key before and so holds its prefix), else the first member with room; if every eligible
    /// member is full, the eligible one with the least load (the earliest on the walk among equals). Returns -1 when
    /// no member is eligible.
    /// </summary>
    /// <param name="keyHash">The key's hash (<see cref="Hash"/>).</param>
    /// <param name="load">The current load of member i (in-flight requests).</param>
    /// <param name="eligible">Whether member i may be picked (healthy), or null for all.</param>
    /// <param name="capacity">The most load a member may carry after accepting this request.</param>
    /// <param name="preferred">Whether member i served this key before, or null for none.</param>
    public int Pick(ulong keyHash, Func<int, int> load, Func<int, bool>? eligible, int capacity, Func<int, bool>? preferred = null)
    {
        ArgumentNullException.ThrowIfNull(load);
        var seen = new bool[Members.Count];
        var visited = 0;
        var first = true;
        var withRoom = -1;
        var fallback = -1;
        var fallbackLoad = int.MaxValue;
        var start = FirstPoint(keyHash);
        for (var i = 0; i < _points.Length && visited < Members.Count; i++)
        {
            var member = _owners[(start + i) % _points.Length];
            if (seen[member])
            {
                continue;
            }

            seen[member] = true;
            visited++;
            if (eligible is not null && !eligible(member))
            {
                continue;
            }

            var l = load(member);
            if (l + 1 <= capacity)
            {
                if (first || (preferred is not null && preferred(member)))
                {
                    return member;
                }

                if (withRoom < 0)
                {
                    withRoom = member;
                    if (preferred is null)
                    {
                        return member;
                    }
                }
            }

            first = false;
            if (l < fallbackLoad)
            {
                fallback = member;
                fallbackLoad = l;
            }
        }

        return withRoom >= 0 ? withRoom : fallback;
    }

    /// <summary>
    /// The bounded-load capacity: max(<paramref name="minLoad"/>, ⌈(1+ε) · (total + 1) / n⌉), the most in-flight
    /// requests a member may hold after accepting one more when <paramref name="totalLoad"/> are in flight over
    /// <paramref name="members"/> members.
    /// </summary>
    public static int Capacity(int totalLoad, int members, double epsilon, int minLoad)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(totalLoad);
        ArgumentOutOfRangeException.ThrowIfLessThan(members, 1);
        var bound = Math.Ceiling((1 + epsilon) * (totalLoad + 1) / members);
        return (int)Math.Max(minLoad, Math.Min(bound, int.MaxValue));
    }

    private int FirstPoint(ulong keyHash)
    {
        var i = Array.BinarySearch(_points, keyHash);
        if (i < 0)
        {
            i = ~i;
        }

        return i == _points.Length ? 0 : i;
    }
}
