using System.Globalization;
using System.Numerics;
using System.Text;

namespace PagedAttention.Text.Templates;

/// <summary>Jinja's built-in filters with Jinja2 3.1 semantics, plus transformers' tojson.</summary>
internal static partial class Filters
{
    private delegate object? Filter(object? v, Args a, RenderState state);

    /// <summary>Filter arguments: positional first, then by keyword, then a default.</summary>
    private readonly struct Args(List<object?> pos, List<KeyValuePair<string, object?>>? kw)
    {
        public List<object?> Positional => pos;

        public object? Get(int i, string name, object? dflt = null)
        {
            if (i >= 0 && i < pos.Count) return pos[i];
            if (kw is not null) foreach (var kv in kw) if (kv.Key == name) return kv.Value;
            return dflt;
        }

        public bool Has(string name) => kw is not null && kw.Any(k => k.Key == name);
    }

    private static readonly Dictionary<string, Filter> Table = new(StringComparer.Ordinal)
    {
        ["tojson"] = (v, a, _) => JsonDump.Dump(v, a.Get(1, "indent"), a.Get(2, "separators"), PyOps.Truthy(a.Get(0, "ensure_ascii", false)), PyOps.Truthy(a.Get(3, "sort_keys", false))),
        ["trim"] = (v, a, _) => PyStr.Strip(Str(v), a.Get(0, "chars") as string, true, true),
        ["length"] = (v, _, _) => PyOps.Length(v),
        ["count"] = (v, _, _) => PyOps.Length(v),
        ["upper"] = (v, _, _) => Str(v).ToUpperInvariant(),
        ["lower"] = (v, _, _) => Str(v).ToLowerInvariant(),
        ["capitalize"] = (v, _, _) => PyStr.Capitalize(Str(v)),
        ["title"] = (v, _, _) => Title(Str(v)),
        ["string"] = (v, _, _) => PyFormat.Str(v),
        ["safe"] = (v, _, _) => v is Undefined ? "" : v,
        ["e"] = (v, _, _) => Escape(v),
        ["escape"] = (v, _, _) => Escape(v),
        ["join"] = (v, a, _) => Join(v, a),
        ["first"] = (v, _, _) => PyOps.Iterate(v) is { Count: > 0 } l ? l[0] : new Undefined("No first item, sequence was empty."),
        ["last"] = (v, _, _) => PyOps.AsList(v) is { Count: > 0 } l ? l[^1] : new Undefined("No last item, sequence was empty."),
        ["list"] = (v, _, _) => new List<object?>(PyOps.Iterate(v)),
        ["items"] = (v, _, _) => v is Undefined ? new List<object?>() : v is PyDict d
            ? d.Items.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList()
            : throw PyOps.Fail("Can only get item pairs from a mapping."),
        ["default"] = Default,
        ["d"] = Default,
        ["replace"] = (v, a, _) => Methods.Replace(Str(v), Str(a.Get(0, "old")), Str(a.Get(1, "new")), a.Get(2, "count") is { } n and not Undefined ? IntArg(n, "replace") : -1),
        ["int"] = (v, a, _) => ToInt(v, a.Get(0, "default", 0L), a.Get(1, "base", 10L) as long? ?? 10),
        ["float"] = (v, a, _) => ToFloat(v, a.Get(0, "default", 0.0)),
        ["abs"] = (v, _, _) => v switch { long or BigInteger => PyInt.Abs(v), double d => (object)Math.Abs(d), bool b => b ? 1L : 0L, _ => throw PyOps.Fail($"bad operand type for abs(): '{PyOps.TypeName(v)}'") },
        ["round"] = (v, a, _) => Round(v, a),
        ["unique"] = (v, a, _) => Unique(v, a),
        ["dictsort"] = DictSort,
        ["sort"] = Sort,
        ["reverse"] = (v, _, _) => v is string s ? string.Concat(PyStr.Chars(s).Cast<string>().Reverse()) : PyOps.Iterate(v).Reverse().ToList(),
        ["indent"] = (v, a, _) => Indent(Str(v), a),
        ["center"] = (v, a, _) => Center(Str(v), IntArg(a.Get(0, "width", 80L), "center"), ' '),
        ["wordcount"] = (v, _, _) => (long)PyStr.Split(Str(v), null, -1).Count,
        ["truncate"] = Truncate,
        ["format"] = (v, a, _) => PyStrFormat.Percent(Str(v), a.Positional.Count == 1 ? a.Positional[0] : a.Positional.ToArray()),
        ["min"] = (v, a, _) => MinMax(v, a, -1),
        ["max"] = (v, a, _) => MinMax(v, a, 1),
        ["sum"] = Sum,
        ["attr"] = (v, a, _) => v is PyDict ? Undefined.NoAttribute(v, Str(a.Get(0, "name"))) : PyOps.GetAttr(v, Str(a.Get(0, "name"))),
        ["map"] = Map,
        ["select"] = (v, a, s) => Select(v, a, s, attr: false, keep: true),
        ["reject"] = (v, a, s) => Select(v, a, s, attr: false, keep: false),
        ["selectattr"] = (v, a, s) => Select(v, a, s, attr: true, keep: true),
        ["rejectattr"] = (v, a, s) => Select(v, a, s, attr: true, keep: false),
        ["batch"] = Batch,
    };

    public static bool Exists(string name) => Table.ContainsKey(name);

    public static object? Apply(string name, object? value, List<object?> args, List<KeyValuePair<string, object?>>? kwargs, RenderState state)
    {
        if (!Table.TryGetValue(name, out var f)) throw PyOps.Fail($"No filter named '{name}'.");
        return f(value, new Args(args, kwargs), state);
    }

    private static string Str(object? v) => PyFormat.Str(v);

    private static long IntArg(object? v, string filter) =>
        PyInt.IsInt(v) ? PyInt.Clamp(v!) : throw PyOps.Fail($"{filter}: an integer is required, not {PyOps.TypeName(v)}");

    private static object? Default(object? v, Args a, RenderState _)
    {
        bool boolean = PyOps.Truthy(a.Get(1, "boolean", false));
        if (v is Undefined || (boolean && !PyOps.Truthy(v))) return a.Get(0, "default_value", "");
        return v;
    }

    private static string Escape(object? v)
    {
        var s = Str(v);
        return s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");
    }

    private static string Join(object? v, Args a)
    {
        string sep = Str(a.Get(0, "d", ""));
        var attr = a.Get(1, "attribute");
        var items = PyOps.Iterate(v);
        var sb = new StringBuilder();
        for (int i = 0; i < items.Count; i++)
        {
            if (i > 0) sb.Append(sep);
            sb.Append(Str(attr is null ? items[i] : GetPath(items[i], attr)));
        }
        return sb.ToString();
    }

    /// <summary>Jinja's title filter: capitalise each word split on whitespace, '-', and opening brackets.</summary>
    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool start = true;
        foreach (char c in s)
        {
            bool sep = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
            sb.Append(sep ? c : start ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            start = sep;
        }
        return sb.ToString();
    }

    private static object? ToInt(object? v, object? dflt, long numberBase)
    {
        switch (v)
        {
            case long or BigInteger: return v;
            case bool b: return b ? 1L : 0L;
            case double d: return double.IsFinite(d) ? PyInt.Norm(new BigInteger(Math.Truncate(d))) : dflt;
            case string s:
                {
                    var t = s.Trim().Replace("_", "");
                    if (numberBase == 16 && (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase))) t = t[2..];
                    if (numberBase == 10 && long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
                    if (numberBase == 10 && t.Length <= 4300 && BigInteger.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var big)) return PyInt.Norm(big);
                    if (numberBase != 10)
                    {
                        try { return Convert.ToInt64(t, (int)numberBase); } catch (FormatException) { } catch (ArgumentException) { }
                    }
                    if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var dd) && double.IsFinite(dd)) return PyInt.Norm(new BigInteger(Math.Truncate(dd)));
                    return dflt;
                }
            default: return dflt;
        }
    }

    private static object? ToFloat(object? v, object? dflt) => v switch
    {
        double d => d,
        long l => (double)l,
        BigInteger bi => PyInt.ToDouble(bi),
        bool b => b ? 1.0 : 0.0,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => dflt,
    };

    private static object? Round(object? v, Args a)
    {
        long precision = IntArg(a.Get(0, "precision", 0L), "round");
        string method = a.Get(1, "method", "common") as string ?? "common";
        if (method is not ("common" or "ceil" or "floor")) throw PyOps.Fail("method must be common, ceil or floor");
        // Python's round() keeps ints as ints (rounding half to even at a negative precision); floor/ceil go through a float.
        if (method == "common" && PyInt.IsInt(v)) return RoundInt(PyInt.Big(v), precision);
        double x = v is long l ? l : v is double d ? d : v is bool b ? (b ? 1 : 0) : v is BigInteger bi ? PyInt.ToDouble(bi) : throw PyOps.Fail("round needs a number");
        if (method != "common")
        {
            double f = Math.Pow(10, precision), r = method == "ceil" ? Math.Ceiling(x * f) / f : Math.Floor(x * f) / f;
            return r;
        }
        return RoundHalfEven(x, precision);
    }

    private static object RoundInt(BigInteger n, long precision)
    {
        if (precision >= 0) return PyInt.Norm(n);
        if (precision < -PyInt.MaxBits) return 0L;
        var unit = BigInteger.Pow(10, (int)-precision);
        var q = BigInteger.DivRem(n, unit, out var r);
        // Floor division, then half to even on the remainder, as CPython's int.__round__.
        if (r.Sign < 0) { q -= 1; r += unit; }
        int c = (2 * r).CompareTo(unit);
        if (c > 0 || (c == 0 && !q.IsEven)) q += 1;
        return PyInt.Norm(q * unit);
    }

    // Python rounds the exact binary value (2.45 is 2.4500000000000001776...), so round its exact decimal expansion.
    private static double RoundHalfEven(double x, long digits)
    {
        if (!double.IsFinite(x) || x == 0) return x;
        if (digits > 22) return x; // every double is exact at this many decimals (CPython returns x too)
        if (digits < -308) return 0.0 * Math.Sign(x);
        if (Math.Abs(x) < 1e27 && digits >= 0)
        {
            string text = x.ToString("F25", CultureInfo.InvariantCulture);
            var exact = decimal.Parse(text[..Math.Min(28, text.Length)], CultureInfo.InvariantCulture); // decimal holds ~28 digits
            return (double)Math.Round(exact, (int)Math.Min(digits, 27), MidpointRounding.ToEven);
        }
        if (digits >= 0) return x; // |x| >= 1e27 has no fractional part
        // A negative precision rounds to a multiple of 10^-digits: the exact value is an integer times a power of two.
        var exactInt = new BigInteger(Math.Truncate(x));
        double frac = x - Math.Truncate(x);
        var unit = BigInteger.Pow(10, (int)-digits);
        var q = BigInteger.DivRem(exactInt, unit, out var rem);
        if (rem.Sign < 0 || (rem.IsZero && frac < 0)) { q -= 1; rem += unit; }
        double remainder = (double)rem + frac; // in [0, unit)
        double half = (double)unit / 2;
        if (remainder > half || (remainder == half && !q.IsEven)) q += 1;
        return (double)(q * unit);
    }

    public static string Center(string s, long width, char fill)
    {
        long n = PyStr.Length(s);
        if (width <= n) return s;
        RenderState.Charge(width); // 'x'|center(10**10) fails here, before allocating
        long total = width - n;
        long left = total / 2 + (total & width & 1); // CPython's split of odd padding
        return new string(fill, (int)left) + s + new string(fill, (int)(total - left));
    }

    private static string Indent(string s, Args a)
    {
        object? w = a.Get(0, "width", 4L);
        long width = w is string ws0 ? ws0.Length : Math.Max(0, IntArg(w, "indent"));
        bool first = PyOps.Truthy(a.Get(1, "first", false));
        bool blank = PyOps.Truthy(a.Get(2, "blank", false));
        var lines = s.Split('\n');
        RenderState.Charge(lines.Length, width); // the padding repeats on every line
        RenderState.Charge(s.Length);
        string pad = w is string ws ? ws : new string(' ', (int)width);
        var sb = new StringBuilder();
        for (int i = 0; i < lines.Length; i++)
        {
            if (i > 0) sb.Append('\n');
            bool indent = i == 0 ? first : (blank || lines[i].Length > 0);
            if (indent && (i > 0 || first)) sb.Append(pad);
            sb.Append(lines[i]);
        }
        return sb.ToString();
    }

    private static object? Truncate(object? v, Args a, RenderState _)
    {
        string s = Str(v);
        long length = IntArg(a.Get(0, "length", 255L), "truncate");
        bool killwords = PyOps.Truthy(a.Get(1, "killwords", false));
        string end = Str(a.Get(2, "end", "..."));
        long leeway = IntArg(a.Get(3, "leeway", 5L), "truncate");
        if (length < end.Length) throw PyOps.Fail($"expected length >= {end.Length}, got {length}");
        if (leeway < 0) throw PyOps.Fail($"expected leeway >= 0, got {leeway}");
        if (s.Length <= length || s.Length - length <= leeway) return s;
        if (killwords) return s[..(int)(length - end.Length)] + end;
        var result = s[..(int)(length - end.Length)];
        int sp = result.LastIndexOf(' ');
        if (sp >= 0) result = result[..sp];
        return result + end;
    }
}
