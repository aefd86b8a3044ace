using System.Globalization;
using System.Numerics;

namespace PagedAttention.AI.Constraints;

/// <summary>An exact decimal (numerator / 10^scale) for schema bounds: 1.1 and 1e300 must compare exactly.</summary>
internal readonly record struct BigRational(BigInteger Numerator, int Scale)
{
    /// <summary>Parses JSON number text; null when it is not one (or the exponent is absurd).</summary>
    public static BigRational? Parse(string s)
    {
        int e = s.IndexOfAny(['e', 'E']);
        int exp = 0;
        if (e >= 0)
        {
            if (!int.TryParse(s.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exp) || Math.Abs(exp) > 4000) return null;
            s = s[..e];
        }
        int dot = s.IndexOf('.');
        int scale = 0;
        if (dot >= 0) { scale = s.Length - dot - 1; s = s.Remove(dot, 1); }
        if (!BigInteger.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)) return null;
        scale -= exp;
        if (scale < 0) { n *= BigInteger.Pow(10, -scale); scale = 0; }
        return new BigRational(n, scale);
    }

    private BigInteger Denominator => BigInteger.Pow(10, Scale);

    public bool IsInteger => Numerator % Denominator == 0;

    public BigInteger Floor()
    {
        var q = BigInteger.DivRem(Numerator, Denominator, out var r);
        return r < 0 ? q - 1 : q;
    }

    public BigInteger Ceiling()
    {
        var q = BigInteger.DivRem(Numerator, Denominator, out var r);
        return r > 0 ? q + 1 : q;
    }

    public int CompareTo(BigRational o)
    {
        int s = Math.Max(Scale, o.Scale);
        return (Numerator * BigInteger.Pow(10, s - Scale)).CompareTo(o.Numerator * BigInteger.Pow(10, s - o.Scale));
    }
}
