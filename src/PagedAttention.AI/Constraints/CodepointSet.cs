namespace PagedAttention.AI.Constraints;

/// <summary>
/// A set of Unicode scalar values as sorted, disjoint, non-adjacent inclusive ranges. Surrogates (U+D800..U+DFFF) are
/// never members: they have no UTF-8 encoding, so a class like <c>[^a]</c> means every scalar value but 'a'.
/// </summary>
internal sealed class CodepointSet
{
    public const int MaxCodepoint = 0x10FFFF;

    private readonly List<(int Lo, int Hi)> _ranges = [];

    public IReadOnlyList<(int Lo, int Hi)> Ranges => _ranges;

    public static CodepointSet Of(params (int Lo, int Hi)[] ranges)
    {
        var s = new CodepointSet();
        foreach (var (lo, hi) in ranges) s.Add(lo, hi);
        return s;
    }

    public static CodepointSet Any() => Of((0, MaxCodepoint));

    public bool IsEmpty => _ranges.Count == 0;

    public CodepointSet Add(int lo, int hi)
    {
        if (lo > hi) return this;
        // Split around the surrogate block.
        if (lo <= 0xDFFF && hi >= 0xD800)
        {
            if (lo < 0xD800) Insert(lo, 0xD7FF);
            if (hi > 0xDFFF) Insert(0xE000, hi);
            return this;
        }
        Insert(lo, hi);
        return this;
    }

    public CodepointSet AddAll(CodepointSet other)
    {
        foreach (var (lo, hi) in other._ranges) Insert(lo, hi);
        return this;
    }

    private void Insert(int lo, int hi)
    {
        _ranges.Add((lo, hi));
        _ranges.Sort();
        var merged = new List<(int Lo, int Hi)>(_ranges.Count);
        foreach (var r in _ranges)
        {
            if (merged.Count > 0 && r.Lo <= merged[^1].Hi + 1)
                merged[^1] = (merged[^1].Lo, Math.Max(merged[^1].Hi, r.Hi));
            else merged.Add(r);
        }
        _ranges.Clear();
        _ranges.AddRange(merged);
    }

    public bool Contains(int cp)
    {
        foreach (var (lo, hi) in _ranges) if (cp >= lo && cp <= hi) return true;
        return false;
    }

    /// <summary>Every scalar value not in this set.</summary>
    public CodepointSet Complement()
    {
        var c = new CodepointSet();
        int next = 0;
        foreach (var (lo, hi) in _ranges)
        {
            if (lo > next) c.Add(next, lo - 1);
            next = hi + 1;
        }
        if (next <= MaxCodepoint) c.Add(next, MaxCodepoint);
        return c;
    }

    public CodepointSet Except(CodepointSet other) => Complement().AddAll(other).Complement();
}
