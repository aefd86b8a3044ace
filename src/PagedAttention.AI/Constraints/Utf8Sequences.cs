namespace PagedAttention.AI.Constraints;

/// <summary>
/// Compiles a set of Unicode scalar values to a byte-level expression matching exactly their UTF-8 encodings
/// (the range-splitting construction of RE2 / Rust's regex-syntax): so a character class costs a handful of
/// byte-set nodes, and a token holding half of a multi-byte character is a legal prefix, never a special case.
/// </summary>
internal static class Utf8Sequences
{
    private static readonly int[] MaxOfLength = [0x7F, 0x7FF, 0xFFFF, 0x10FFFF];

    public static int Compile(ExprSet x, CodepointSet set)
    {
        var parts = new List<int>();
        foreach (var (lo, hi) in set.Ranges) AddRange(x, lo, hi, parts);
        return x.Or(parts);
    }

    private static void AddRange(ExprSet x, int lo, int hi, List<int> parts)
    {
        // Split so both ends have the same encoded length.
        Span<byte> a = stackalloc byte[4], b = stackalloc byte[4];
        for (int len = 0; len < 4 && lo <= hi; len++)
        {
            int max = MaxOfLength[len];
            if (lo > max) continue;
            int top = Math.Min(hi, max);
            int n = Encode(lo, a);
            Encode(top, b);
            parts.Add(Sequences(x, a[..n], b[..n]));
            lo = top + 1;
        }
    }

    // All byte strings between a and b (same length, both valid encodings), where the set of valid encodings between
    // them is "prefix-closed": split on the first byte where they differ.
    private static int Sequences(ExprSet x, ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length == 1) return x.Bytes(ByteSet.Range(a[0], b[0]));
        if (a[0] == b[0]) return x.Concat(x.Byte(a[0]), Sequences(x, a[1..], b[1..]));
        int rest = a.Length - 1;
        Span<byte> minTail = stackalloc byte[rest], maxTail = stackalloc byte[rest];
        minTail.Fill(0x80);
        maxTail.Fill(0xBF);
        var parts = new List<int>(3);
        int lead = a[0], last = b[0];
        // Lower partial block: a[0] followed by a[1..]..max tail.
        if (!a[1..].SequenceEqual(minTail))
        {
            parts.Add(x.Concat(x.Byte(a[0]), Sequences(x, a[1..], maxTail)));
            lead++;
        }
        bool upperPartial = !b[1..].SequenceEqual(maxTail);
        if (upperPartial) last--;
        if (lead <= last)
        {
            int tail = ExprSet.Empty;
            for (int i = 0; i < rest; i++) tail = x.Concat(x.Bytes(ByteSet.Range(0x80, 0xBF)), tail);
            parts.Add(x.Concat(x.Bytes(ByteSet.Range(lead, last)), tail));
        }
        if (upperPartial) parts.Add(x.Concat(x.Byte(b[0]), Sequences(x, minTail, b[1..])));
        return x.Or(parts);
    }

    public static int Encode(int cp, Span<byte> dst)
    {
        if (cp < 0x80) { dst[0] = (byte)cp; return 1; }
        if (cp < 0x800) { dst[0] = (byte)(0xC0 | cp >> 6); dst[1] = (byte)(0x80 | cp & 0x3F); return 2; }
        if (cp < 0x10000)
        {
            dst[0] = (byte)(0xE0 | cp >> 12); dst[1] = (byte)(0x80 | cp >> 6 & 0x3F); dst[2] = (byte)(0x80 | cp & 0x3F);
            return 3;
        }
        dst[0] = (byte)(0xF0 | cp >> 18); dst[1] = (byte)(0x80 | cp >> 12 & 0x3F);
        dst[2] = (byte)(0x80 | cp >> 6 & 0x3F); dst[3] = (byte)(0x80 | cp & 0x3F);
        return 4;
    }
}
