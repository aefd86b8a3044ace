using System.Globalization;
using System.Numerics;

namespace PagedAttention.AI.Constraints;

/// <summary>Byte regexes of JSON's token kinds: numbers (with integer ranges), string contents and formats.</summary>
internal static class JsonLexemes
{
    public static int Digit(ExprSet x) => x.Bytes(ByteSet.Range('0', '9'));

    private static int Digits(ExprSet x, int min, int max) => x.Repeat(Digit(x), min, max);

    /// <summary>-?(0|[1-9][0-9]*)</summary>
    public static int Integer(ExprSet x) => x.Concat(x.Optional(x.Byte((byte)'-')), NonNegative(x));

    private static int NonNegative(ExprSet x) =>
        x.Or(x.Byte((byte)'0'), x.Concat(x.Bytes(ByteSet.Range('1', '9')), Digits(x, 0, ExprSet.Infinite)));

    private static int FractionExponent(ExprSet x) => x.Concat(
        x.Optional(x.Concat(x.Byte((byte)'.'), Digits(x, 1, ExprSet.Infinite))),
        x.Optional(x.Concat(x.Bytes(ByteSet.Of((byte)'e').Union(ByteSet.Of((byte)'E'))),
            x.Optional(x.Bytes(ByteSet.Of((byte)'+').Union(ByteSet.Of((byte)'-')))), Digits(x, 1, ExprSet.Infinite))));

    /// <summary>JSON's number grammar.</summary>
    public static int Number(ExprSet x) => x.Concat(Integer(x), FractionExponent(x));

    /// <summary>
    /// Integers in [lo, hi] (null = unbounded) in canonical decimal (no leading zeros, no "-0"), built digit by digit
    /// the way UTF-8 ranges are: a same-length range splits at the first digit where its ends differ.
    /// </summary>
    public static int IntegerRange(ExprSet x, BigInteger? lo, BigInteger? hi)
    {
        if (lo is null && hi is null) return Integer(x);
        if (lo > hi) return ExprSet.Nothing;
        var parts = new List<int>();
        // Non-negative part.
        if (hi is null || hi >= 0) parts.Add(NonNegRange(x, lo is null || lo < 0 ? 0 : lo.Value, hi));
        // Negative part: "-" then |v| in [max(1, -hi), -lo].
        if (lo is null || lo < 0)
        {
            BigInteger a = hi is null || hi >= 0 ? 1 : -hi.Value;
            BigInteger? b = lo is null ? null : -lo.Value;
            parts.Add(x.Concat(x.Byte((byte)'-'), NonNegRange(x, a, b)));
        }
        return x.Or(parts);
    }

    private static int NonNegRange(ExprSet x, BigInteger a, BigInteger? b)
    {
        if (b is not null && a > b) return ExprSet.Nothing;
        var parts = new List<int>();
        int la = a.ToString(CultureInfo.InvariantCulture).Length;
        int lb = b is null ? la : b.Value.ToString(CultureInfo.InvariantCulture).Length;
        for (int len = la; len <= lb; len++)
        {
            BigInteger lo = len == 1 ? 0 : BigInteger.Pow(10, len - 1), hi = BigInteger.Pow(10, len) - 1;
            if (lo < a) lo = a;
            if (b is not null && hi > b) hi = b.Value;
            if (lo <= hi) parts.Add(SameLength(x, lo.ToString(CultureInfo.InvariantCulture), hi.ToString(CultureInfo.InvariantCulture)));
        }
        if (b is null) // every longer number
            parts.Add(x.Concat(x.Bytes(ByteSet.Range('1', '9')), Digits(x, la, la), Digits(x, 0, ExprSet.Infinite)));
        return x.Or(parts);
    }

    private static int SameLength(ExprSet x, ReadOnlySpan<char> a, ReadOnlySpan<char> b)
    {
        if (a.Length == 1) return x.Bytes(ByteSet.Range(a[0], b[0]));
        if (a[0] == b[0]) return x.Concat(x.Byte((byte)a[0]), SameLength(x, a[1..], b[1..]));
        int rest = a.Length - 1;
        var parts = new List<int>();
        char lead = a[0], last = b[0];
        bool lowFull = a[1..].IndexOfAnyExcept('0') < 0, highFull = b[1..].IndexOfAnyExcept('9') < 0;
        if (!lowFull) { parts.Add(x.Concat(x.Byte((byte)a[0]), SameLength(x, a[1..], new string('9', rest)))); lead++; }
        if (!highFull) last--;
        if (lead <= last) parts.Add(x.Concat(x.Bytes(ByteSet.Range(lead, last)), Digits(x, rest, rest)));
        if (!highFull) parts.Add(x.Concat(x.Byte((byte)b[0]), SameLength(x, new string('0', rest), b[1..])));
        return x.Or(parts);
    }

    /// <summary>
    /// Numbers x with lo ≤ x ≤ hi for integer-valued bounds (either may be null): the integer part is ranged and a
    /// fraction is allowed wherever it cannot cross a bound; no exponent (a bounded exponent form would need
    /// arithmetic the regex cannot do).
    /// </summary>
    public static int NumberRange(ExprSet x, BigInteger? lo, BigInteger? hi)
    {
        if (lo is null && hi is null) return Number(x);
        int frac = x.Optional(x.Concat(x.Byte((byte)'.'), Digits(x, 1, ExprSet.Infinite)));
        int zeroFrac = x.Optional(x.Concat(x.Byte((byte)'.'), x.Repeat(x.Byte((byte)'0'), 1, ExprSet.Infinite)));
        var parts = new List<int>();
        // Integer part I (trunc toward zero, sign kept), value in [I, I+1) for x >= 0 and (I-1, I] for x < 0.
        // x >= 0 with integer part i: lo <= i and (i < hi, any fraction | i == hi, zero fraction).
        BigInteger? pLo = lo is null || lo < 0 ? 0 : lo;
        if (hi is null || hi >= 0)
        {
            if (hi is null) parts.Add(x.Concat(NonNegRange(x, pLo!.Value, null), frac));
            else
            {
                if (pLo < hi) parts.Add(x.Concat(NonNegRange(x, pLo!.Value, hi - 1), frac));
                if (pLo <= hi) parts.Add(x.Concat(NonNegRange(x, hi.Value, hi), zeroFrac));
            }
        }
        // x < 0, written "-" |i| "." f with |x| in [|i|, |i|+1): need |x| <= -lo and |x| >= -hi (when hi < 0).
        if (lo is null || lo < 0)
        {
            BigInteger? aMax = lo is null ? null : -lo.Value; // |x| <= aMax
            BigInteger aMin = hi is null || hi >= 0 ? 0 : -hi.Value; // |x| >= aMin
            // |i| in [aMin, aMax-1] any fraction (|x| < aMax); |i| == aMax zero fraction. |x| must be > 0: "-0" only with a non-zero fraction.
            var neg = new List<int>();
            BigInteger? anyTop = aMax is null ? null : aMax - 1;
            if (anyTop is null || anyTop >= aMin)
            {
                if (aMin == 0)
                {
                    neg.Add(x.Concat(x.Byte((byte)'0'), x.Byte((byte)'.'), Digits(x, 0, ExprSet.Infinite), x.Bytes(ByteSet.Range('1', '9')), Digits(x, 0, ExprSet.Infinite)));
                    if (anyTop is null || anyTop >= 1) neg.Add(x.Concat(NonNegRange(x, 1, anyTop), frac));
                }
                else neg.Add(x.Concat(NonNegRange(x, aMin, anyTop), frac));
            }
            if (aMax is not null && aMax >= aMin && aMax > 0) neg.Add(x.Concat(NonNegRange(x, aMax.Value, aMax), zeroFrac));
            if (neg.Count > 0) parts.Add(x.Concat(x.Byte((byte)'-'), x.Or(neg)));
        }
        return x.Or(parts);
    }

    /// <summary>The inside of a string in a given format (only characters that need no escape), or null when unknown.</summary>
    public static string? FormatPattern(string format) => format switch
    {
        "date" => Date,
        "time" => Time,
        "date-time" => Date + "[Tt]" + Time,
        "uuid" => "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        // Conservative subsets of RFC 5322 / 3339: what validators (JsonSchema.Net) accept, not every legal address.
        "email" => "[A-Za-z0-9_%+-]{1,30}(\\.[A-Za-z0-9_%+-]{1,15}){0,2}@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,24}",
        "uri" => "[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\\-._~:/?#\\[\\]@!$&'()*+,;=%]*",
        "ipv4" => "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
        "hostname" => "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
        _ => null,
    };

    // Days valid in every year (29 February needs a leap-year test the regex does not do).
    private const string Date = "[0-9]{4}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))";
    private const string Time = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";
}
