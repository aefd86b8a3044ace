using System.Globalization;
using System.Numerics;
using System.Text;

namespace PagedAttention.Text.Templates;

/// <summary>
/// Python's two string-formatting operators as templates use them: printf-style <c>'%s' % x</c> (positional or
/// <c>%(name)s</c> from a dict) and <c>str.format</c> (<c>{}</c>, <c>{0[1]}</c>, <c>{name.attr}</c>, <c>!r</c>, and the
/// common format specs). Widths are charged to the render budget before padding is built.
/// </summary>
internal static class PyStrFormat
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Percent(string fmt, object? args)
    {
        bool usesKeys = fmt.Contains("%(", StringComparison.Ordinal);
        var mapping = usesKeys ? args as PyDict ?? throw PyOps.Fail("format requires a mapping") : null;
        var values = args is object?[] t ? t : [args];
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = fmt[i];
            if (c != '%') { sb.Append(c); continue; }
            if (++i >= fmt.Length) throw PyOps.Fail("incomplete format");
            object? v = null;
            bool haveValue = false;
            if (fmt[i] == '(')
            {
                int close = fmt.IndexOf(')', i);
                if (close < 0) throw PyOps.Fail("incomplete format key");
                string key = fmt[(i + 1)..close];
                if (!mapping!.TryGet(key, out v)) throw PyOps.Fail($"'{key}'");
                haveValue = true;
                i = close + 1;
            }
            int flagsStart = i;
            while (i < fmt.Length && "-+ #0".Contains(fmt[i])) i++;
            string flags = fmt[flagsStart..i];
            long width = ReadInt(fmt, ref i);
            long precision = -1;
            if (i < fmt.Length && fmt[i] == '.') { i++; precision = ReadInt(fmt, ref i); if (precision < 0) precision = 0; }
            if (i >= fmt.Length) throw PyOps.Fail("incomplete format");
            char conv = fmt[i];
            if (conv == '%') { sb.Append('%'); continue; }
            if (!haveValue)
            {
                if (mapping is not null) v = mapping;
                else if (next >= values.Length) throw PyOps.Fail("not enough arguments for format string");
                else v = values[next++];
            }
            string body = conv switch
            {
                's' => Truncate(PyFormat.Str(v), precision),
                'r' or 'a' => Truncate(PyFormat.Repr(v), precision),
                'd' or 'i' or 'u' => Digits(Integer(v, conv), precision, 10, false),
                'x' or 'X' or 'o' => Digits(Integer(v, conv), precision, conv == 'o' ? 8 : 16, conv == 'X'),
                'f' or 'F' => Fixed(Real(v, conv), precision < 0 ? 6 : precision),
                'c' => v is string { Length: 1 } ch ? ch : PyInt.IsInt(v) ? char.ConvertFromUtf32((int)PyInt.Clamp(v)) : throw PyOps.Fail("%c requires int or char"),
                _ => throw PyOps.Fail($"unsupported format character '{conv}' (0x{(int)conv:x}) at index {i}"),
            };
            bool numeric = conv is not ('s' or 'r' or 'a' or 'c');
            if (numeric && flags.Contains('+') && !body.StartsWith('-')) body = "+" + body;
            else if (numeric && flags.Contains(' ') && !body.StartsWith('-')) body = " " + body;
            sb.Append(PadTo(body, width, flags.Contains('-') ? '<' : numeric && flags.Contains('0') ? '=' : '>', numeric && flags.Contains('0') && !flags.Contains('-') ? '0' : ' '));
        }
        if (mapping is null && args is object?[] && next < values.Length) throw PyOps.Fail("not all arguments converted during string formatting");
        return sb.ToString();
    }

    private static long ReadInt(string s, ref int i)
    {
        int start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
        if (i == start) return -1;
        return long.TryParse(s.AsSpan(start, i - start), NumberStyles.None, Inv, out var n) ? n : long.MaxValue;
    }

    private static string Truncate(string s, long precision) => precision >= 0 && precision < s.Length ? s[..(int)precision] : s;

    private static BigInteger Integer(object? v, char conv) => v switch
    {
        long or bool or BigInteger => PyInt.Big(v),
        double d when double.IsFinite(d) && conv is 'd' or 'i' or 'u' => new BigInteger(Math.Truncate(d)),
        _ => throw PyOps.Fail($"%{conv} format: {(conv is 'd' or 'i' or 'u' ? "a real number" : "an integer")} is required, not {PyOps.TypeName(v)}"),
    };

    private static double Real(object? v, char conv) => v switch
    {
        double d => d,
        long l => l,
        bool b => b ? 1 : 0,
        BigInteger bi => PyInt.ToDouble(bi),
        _ => throw PyOps.Fail($"must be real number, not {PyOps.TypeName(v)}"),
    };

    private static string Digits(BigInteger n, long precision, int radix, bool upper)
    {
        string digits = radix switch
        {
            10 => BigInteger.Abs(n).ToString(Inv),
            16 => BigInteger.Abs(n).ToString("x", Inv).TrimStart('0'),
            _ => ToOctal(BigInteger.Abs(n)),
        };
        if (digits.Length == 0) digits = "0";
        if (upper) digits = digits.ToUpperInvariant();
        if (precision > digits.Length) { RenderState.Charge(precision); digits = new string('0', (int)(precision - digits.Length)) + digits; }
        return n.Sign < 0 ? "-" + digits : digits;
    }

    private static string ToOctal(BigInteger n)
    {
        if (n.IsZero) return "0";
        var sb = new StringBuilder();
        while (!n.IsZero) { sb.Insert(0, (char)('0' + (int)(n % 8))); n /= 8; }
        return sb.ToString();
    }

    private static string Fixed(double d, long precision)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (precision > 100) throw PyOps.Fail("precision too large"); // Python allows more; no template needs it
        return d.ToString("F" + precision.ToString(Inv), Inv);
    }

    private static string PadTo(string body, long width, char align, char fill)
    {
        long n = PyStr.Length(body);
        if (width <= n) return body;
        RenderState.Charge(width);
        long pad = width - n;
        return align switch
        {
            '<' => body + new string(fill, (int)pad),
            '^' => new string(fill, (int)(pad / 2)) + body + new string(fill, (int)(pad - pad / 2)),
            '=' when body.Length > 0 && body[0] is '-' or '+' or ' ' => body[0] + new string(fill, (int)pad) + body[1..],
            _ => new string(fill, (int)pad) + body,
        };
    }

    /// <summary>str.format: positional {} / {0}, keyword {name}, .attr and [key] accessors, !s / !r, format specs.</summary>
    public static string Format(string fmt, List<object?> args, List<KeyValuePair<string, object?>>? kwargs)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = fmt[i];
            if (c == '{' && i + 1 < fmt.Length && fmt[i + 1] == '{') { sb.Append('{'); i++; continue; }
            if (c == '}')
            {
                if (i + 1 < fmt.Length && fmt[i + 1] == '}') { sb.Append('}'); i++; continue; }
                throw PyOps.Fail("Single '}' encountered in format string");
            }
            if (c != '{') { sb.Append(c); continue; }
            int end = fmt.IndexOf('}', i);
            if (end < 0) throw PyOps.Fail("Single '{' encountered in format string");
            string field = fmt[(i + 1)..end];
            if (field.Contains('{')) throw PyOps.Fail("nested replacement fields in format specs are not supported");
            string spec = "";
            int colon = field.IndexOf(':');
            if (colon >= 0) { spec = field[(colon + 1)..]; field = field[..colon]; }
            char conversion = '\0';
            int bang = field.IndexOf('!');
            if (bang >= 0)
            {
                if (bang + 2 != field.Length) throw PyOps.Fail("expected ':' after conversion specifier");
                conversion = field[bang + 1];
                field = field[..bang];
            }
            object? v = Field(field, args, kwargs, ref auto);
            if (conversion == 'r' || conversion == 'a') v = PyFormat.Repr(v);
            else if (conversion == 's') v = PyFormat.Str(v);
            else if (conversion != '\0') throw PyOps.Fail($"Unknown conversion specifier {conversion}");
            sb.Append(ApplySpec(v, spec));
            i = end;
        }
        return sb.ToString();
    }

    private static object? Field(string field, List<object?> args, List<KeyValuePair<string, object?>>? kwargs, ref int auto)
    {
        int k = 0;
        while (k < field.Length && field[k] is not ('.' or '[')) k++;
        string head = field[..k];
        object? v;
        if (head.Length == 0)
        {
            if (auto < 0) throw PyOps.Fail("cannot switch from manual field specification to automatic field numbering");
            v = auto < args.Count ? args[auto++] : throw PyOps.Fail($"Replacement index {auto} out of range for positional args tuple");
        }
        else if (int.TryParse(head, NumberStyles.None, Inv, out int idx))
        {
            if (auto > 0) throw PyOps.Fail("cannot switch from automatic field numbering to manual field specification");
            auto = -1;
            v = idx < args.Count ? args[idx] : throw PyOps.Fail($"Replacement index {idx} out of range for positional args tuple");
        }
        else
        {
            v = null;
            bool found = false;
            if (kwargs is not null) foreach (var kv in kwargs) if (kv.Key == head) { v = kv.Value; found = true; }
            if (!found) throw PyOps.Fail($"'{head}'");
        }
        while (k < field.Length)
        {
            if (field[k] == '.')
            {
                int j = k + 1;
                while (j < field.Length && field[j] is not ('.' or '[')) j++;
                if (j == k + 1) throw PyOps.Fail("Empty attribute in format string");
                v = PyOps.GetAttr(v, field[(k + 1)..j]);
                k = j;
            }
            else
            {
                int close = field.IndexOf(']', k);
                if (close < 0) throw PyOps.Fail("Missing ']' in format string");
                string key = field[(k + 1)..close];
                v = PyOps.GetItem(v, long.TryParse(key, NumberStyles.None, Inv, out var n) ? n : key);
                k = close + 1;
                if (k < field.Length && field[k] is not ('.' or '[')) throw PyOps.Fail("Only '.' or '[' may follow ']' in format field specifier");
            }
        }
        return v;
    }

    // [[fill]align][sign][#][0][width][,_][.precision][type]
    private static string ApplySpec(object? v, string spec)
    {
        if (spec.Length == 0) return PyFormat.Str(v);
        int i = 0;
        char fill = ' ', align = '\0';
        if (spec.Length >= 2 && spec[1] is '<' or '>' or '^' or '=') { fill = spec[0]; align = spec[1]; i = 2; }
        else if (spec[0] is '<' or '>' or '^' or '=') { align = spec[0]; i = 1; }
        char sign = '-';
        if (i < spec.Length && spec[i] is '+' or '-' or ' ') sign = spec[i++];
        if (i < spec.Length && spec[i] == '#') throw PyOps.Fail("the '#' format option is not supported");
        if (i < spec.Length && spec[i] == '0' && align == '\0') { fill = '0'; align = '='; i++; }
        long width = ReadInt(spec, ref i);
        if (i < spec.Length && spec[i] is ',' or '_') throw PyOps.Fail("thousands separators in format specs are not supported");
        long precision = -1;
        if (i < spec.Length && spec[i] == '.') { i++; precision = ReadInt(spec, ref i); if (precision < 0) throw PyOps.Fail("Format specifier missing precision"); }
        char type = i < spec.Length ? spec[i++] : '\0';
        if (i != spec.Length) throw PyOps.Fail("Invalid format specifier");
        string body;
        bool numeric = v is long or double or BigInteger or bool;
        switch (type)
        {
            case '\0' when v is string || !numeric:
            case 's':
                if (v is not string str) throw PyOps.Fail($"Unknown format code '{type}' for object of type '{PyOps.TypeName(v)}'");
                body = Truncate(str, precision);
                numeric = false;
                break;
            case '\0' when v is long or BigInteger or bool:
            case 'd':
                if (v is double or not (long or BigInteger or bool)) throw PyOps.Fail($"Unknown format code 'd' for object of type '{PyOps.TypeName(v)}'");
                body = PyInt.Big(v).ToString(Inv);
                break;
            case 'x' or 'X' or 'o' or 'b':
                if (v is double or not (long or BigInteger or bool)) throw PyOps.Fail($"Unknown format code '{type}' for object of type '{PyOps.TypeName(v)}'");
                if (type == 'b') throw PyOps.Fail("the 'b' format code is not supported");
                body = Digits(PyInt.Big(v), -1, type == 'o' ? 8 : 16, type == 'X');
                break;
            case 'f' or 'F' or '%':
                {
                    double d = v switch { double x => x, long or bool or BigInteger => PyInt.IsInt(v) && v is BigInteger bi ? PyInt.ToDouble(bi) : Convert.ToDouble(v is bool b ? (b ? 1 : 0) : v, Inv), _ => throw PyOps.Fail($"Unknown format code '{type}' for object of type '{PyOps.TypeName(v)}'") };
                    body = type == '%' ? Fixed(d * 100, precision < 0 ? 6 : precision) + "%" : Fixed(d, precision < 0 ? 6 : precision);
                    break;
                }
            case '\0' when v is double dd:
                if (precision >= 0) throw PyOps.Fail("float format specs without a type are not supported");
                body = PyFormat.FloatRepr(dd);
                break;
            default: throw PyOps.Fail($"format code '{type}' is not supported");
        }
        if (numeric && sign != '-' && !body.StartsWith('-')) body = sign + body;
        return PadTo(body, width, align == '\0' ? (numeric ? '>' : '<') : align, fill);
    }
}
