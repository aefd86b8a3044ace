using System.Globalization;
using System.Numerics;
using System.Text;

namespace PagedAttention.Text.Templates;

/// <summary>Python's str() and repr() of template values, which is what {{ x }} and |string print.</summary>
internal static class PyFormat
{
    public static string Str(object? v) => v switch
    {
        string s => s,
        null => "None",
        Undefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        _ => Repr(v),
    };

    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v);
        return sb.ToString();
    }

    public static void AppendRepr(StringBuilder sb, object? v)
    {
        System.Runtime.CompilerServices.RuntimeHelpers.EnsureSufficientExecutionStack(); // deeply nested context data
        switch (v)
        {
            case string s: AppendStringRepr(sb, s); break;
            case null: sb.Append("None"); break;
            case Undefined: sb.Append("Undefined"); break;
            case bool b: sb.Append(b ? "True" : "False"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case BigInteger bi: sb.Append(bi.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(FloatRepr(d)); break;
            case List<object?> list:
                sb.Append('[');
                for (int i = 0; i < list.Count; i++) { if (i > 0) sb.Append(", "); AppendRepr(sb, list[i]); }
                sb.Append(']');
                break;
            case object?[] tuple:
                sb.Append('(');
                for (int i = 0; i < tuple.Length; i++) { if (i > 0) sb.Append(", "); AppendRepr(sb, tuple[i]); }
                if (tuple.Length == 1) sb.Append(',');
                sb.Append(')');
                break;
            case PyDict dict:
                sb.Append('{');
                bool first = true;
                foreach (var kv in dict.Items)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendRepr(sb, kv.Key);
                    sb.Append(": ");
                    AppendRepr(sb, kv.Value);
                }
                sb.Append('}');
                break;
            case PyNamespace: sb.Append("<Namespace>"); break;
            case PyCallable c: sb.Append("<function ").Append(c.Name).Append('>'); break;
            default: sb.Append(v.ToString()); break;
        }
    }

    /// <summary>Python's repr of a str: single quotes unless the text has ' and no ".</summary>
    public static void AppendStringRepr(StringBuilder sb, string s)
    {
        char q = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(q);
        foreach (var rune in s.EnumerateRunes())
        {
            int c = rune.Value;
            if (c == q || c == '\\') sb.Append('\\').Append((char)c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
            else if (c >= 0x80 && !IsPrintable(rune))
            {
                if (c <= 0xff) sb.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
                else if (c <= 0xffff) sb.Append("\\u").Append(c.ToString("x4", CultureInfo.InvariantCulture));
                else sb.Append("\\U").Append(c.ToString("x8", CultureInfo.InvariantCulture));
            }
            else sb.Append(rune.ToString());
        }
        sb.Append(q);
    }

    // Python's str.isprintable: not in categories Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs (except ASCII space).
    private static bool IsPrintable(Rune r)
    {
        var cat = Rune.GetUnicodeCategory(r);
        return cat switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => false,
            UnicodeCategory.SpaceSeparator => r.Value == ' ',
            _ => true,
        };
    }

    /// <summary>Python float repr: shortest round-trip digits; exponent form when exp &lt; -4 or &gt;= 16.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        // Use the shortest round-trip digits ("R") and re-layout them as Python does.
        string shortest = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        string digits;
        int exp;
        int ePos = shortest.IndexOfAny(['E', 'e']);
        string mant = ePos >= 0 ? shortest[..ePos] : shortest;
        int e10 = ePos >= 0 ? int.Parse(shortest[(ePos + 1)..], CultureInfo.InvariantCulture) : 0;
        int dot = mant.IndexOf('.');
        string intPart = dot >= 0 ? mant[..dot] : mant;
        string frac = dot >= 0 ? mant[(dot + 1)..] : "";
        digits = (intPart + frac).TrimStart('0');
        int leadingZeros = (intPart + frac).Length - digits.Length;
        exp = intPart.Length - 1 - leadingZeros + e10; // decimal exponent of the first significant digit
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        var sb = new StringBuilder();
        if (d < 0) sb.Append('-');
        if (exp < -4 || exp >= 16)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            sb.Append('e').Append(exp < 0 ? '-' : '+').Append(Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (exp < 0)
        {
            sb.Append("0.").Append('0', -exp - 1).Append(digits);
        }
        else if (digits.Length <= exp + 1)
        {
            sb.Append(digits).Append('0', exp + 1 - digits.Length).Append(".0");
        }
        else
        {
            sb.Append(digits, 0, exp + 1).Append('.').Append(digits, exp + 1, digits.Length - exp - 1);
        }
        return sb.ToString();
    }
}
