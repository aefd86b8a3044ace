using System.Numerics;

namespace PagedAttention.Text.Templates;

/// <summary>
/// Python int semantics: arbitrary precision, never wrapping. Values that fit stay <see cref="long"/> (the fast path);
/// larger ones are <see cref="BigInteger"/>, and every result is normalised back to long when it fits, so a
/// BigInteger value is always outside the long range.
/// </summary>
internal static class PyInt
{
    /// <summary>
    /// Largest integer, in bits (about 4,200 decimal digits). Python 3.11 refuses to print an int of more than 4,300
    /// digits, so nothing a template can print is lost; the cap keeps <c>3 ** 100000000</c> from computing for minutes.
    /// </summary>
    public const int MaxBits = 14_000;

    public static bool IsInt(object? v) => v is long or bool or BigInteger;

    public static BigInteger Big(object? v) => v switch
    {
        long l => l,
        bool b => b ? BigInteger.One : BigInteger.Zero,
        BigInteger bi => bi,
        _ => throw PyOps.Fail($"expected an integer, got {PyOps.TypeName(v)}"),
    };

    public static object Norm(BigInteger b)
    {
        if (b >= long.MinValue && b <= long.MaxValue) return (long)b;
        if (b.GetBitLength() > MaxBits) throw TooLarge();
        return b;
    }

    private static object Norm(Int128 r) => r >= long.MinValue && r <= long.MaxValue ? (long)r : Norm((BigInteger)r);

    private static TemplateException TooLarge() =>
        PyOps.Fail($"integer too large: results over {MaxBits:N0} bits (about 4,200 digits) are refused");

    private static long L(object v) => v is long l ? l : v is bool b ? (b ? 1 : 0) : throw new InvalidCastException();

    private static bool Small(object a, object b) => a is not BigInteger && b is not BigInteger;

    public static object Add(object a, object b) => Small(a, b) ? Norm((Int128)L(a) + L(b)) : Norm(Big(a) + Big(b));

    public static object Sub(object a, object b) => Small(a, b) ? Norm((Int128)L(a) - L(b)) : Norm(Big(a) - Big(b));

    public static object Mul(object a, object b)
    {
        if (Small(a, b)) return Norm((Int128)L(a) * L(b));
        var x = Big(a);
        var y = Big(b);
        if (!x.IsZero && !y.IsZero && x.GetBitLength() + y.GetBitLength() > MaxBits + 1) throw TooLarge();
        return Norm(x * y);
    }

    public static object Neg(object a) => a is long l && l != long.MinValue ? -l : Norm(-Big(a));

    public static object Abs(object a) => a is long l && l != long.MinValue ? Math.Abs(l) : Norm(BigInteger.Abs(Big(a)));

    /// <summary>Python <c>//</c>: rounds towards negative infinity. The caller has ruled out a zero divisor.</summary>
    public static object FloorDiv(object a, object b)
    {
        if (Small(a, b))
        {
            long x = L(a), y = L(b);
            if (y == -1) return Neg(x); // long.MinValue // -1 does not fit a long
            long q = x / y;
            if (x % y != 0 && (x < 0) != (y < 0)) q--;
            return q;
        }
        var bx = Big(a);
        var by = Big(b);
        var bq = BigInteger.DivRem(bx, by, out var r);
        if (!r.IsZero && (r.Sign < 0) != (by.Sign < 0)) bq -= 1;
        return Norm(bq);
    }

    /// <summary>Python <c>%</c>: the result has the divisor's sign. The caller has ruled out a zero divisor.</summary>
    public static object Mod(object a, object b)
    {
        if (Small(a, b))
        {
            long x = L(a), y = L(b);
            if (y == -1) return 0L;
            long m = x % y;
            if (m != 0 && (m < 0) != (y < 0)) m += y;
            return m;
        }
        var by = Big(b);
        var r = BigInteger.Remainder(Big(a), by);
        if (!r.IsZero && (r.Sign < 0) != (by.Sign < 0)) r += by;
        return Norm(r);
    }

    /// <summary>Python <c>int ** int</c> with a non-negative exponent.</summary>
    public static object Pow(object a, object b)
    {
        var x = Big(a);
        var e = Big(b);
        if (x.IsZero) return e.IsZero ? 1L : 0L;
        if (x.IsOne) return 1L;
        if (x == BigInteger.MinusOne) return e.IsEven ? 1L : -1L;
        // |x| >= 2: the result has at least e bits, more exactly about e * log2|x|.
        double bits = (double)e * BigInteger.Log(BigInteger.Abs(x), 2);
        if (bits > MaxBits + 1) throw TooLarge();
        return Norm(BigInteger.Pow(x, (int)e));
    }

    public static double ToDouble(BigInteger b)
    {
        double d = (double)b;
        return double.IsFinite(d) ? d : throw PyOps.Fail("int too large to convert to float");
    }

    /// <summary>An int as a clamped long, for sizes and indices (Python would fail or clamp on these anyway).</summary>
    public static long Clamp(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        BigInteger bi => bi.Sign < 0 ? long.MinValue : long.MaxValue,
        _ => throw PyOps.Fail($"'{PyOps.TypeName(v)}' object cannot be interpreted as an integer"),
    };
}
