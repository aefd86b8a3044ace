using System.Globalization;
using System.Text;

namespace PagedAttention.Text.Templates;

/// <summary>Global functions visible to every template: range, namespace, dict, raise_exception, strftime_now.</summary>
internal static class Builtins
{
    public static readonly Scope Root = new(null, Create());

    private static Dictionary<string, object?> Create() => new(StringComparer.Ordinal)
    {
        ["range"] = new BuiltinFunction("range", (a, _) => Range(a)),
        ["namespace"] = new BuiltinFunction("namespace", (a, kw) =>
        {
            var ns = new PyNamespace();
            foreach (var arg in a)
                if (arg is PyDict d) foreach (var kv in d.Items) ns.Attributes[PyFormat.Str(kv.Key)] = kv.Value;
            if (kw is not null) foreach (var kv in kw) ns.Attributes[kv.Key] = kv.Value;
            return ns;
        }),
        ["dict"] = new BuiltinFunction("dict", (a, kw) =>
        {
            var d = new PyDict();
            if (a.Count > 0 && a[0] is PyDict src) foreach (var kv in src.Items) d.Set(kv.Key, kv.Value);
            if (kw is not null) foreach (var kv in kw) d.Set(kv.Key, kv.Value);
            return d;
        }),
        ["raise_exception"] = new BuiltinFunction("raise_exception", (a, _) =>
            throw new TemplateRaisedException(a.Count > 0 ? PyFormat.Str(a[0]) : "", 0, 0)),
        ["strftime_now"] = new StrftimeNow(),
    };

    private static List<object?> Range(List<object?> a)
    {
        long start = 0, stop, step = 1;
        if (a.Count == 1) stop = AsLong(a[0]);
        else if (a.Count >= 2)
        {
            start = AsLong(a[0]);
            stop = AsLong(a[1]);
            if (a.Count > 2) step = AsLong(a[2]);
        }
        else throw PyOps.Fail("range expected at least 1 argument, got 0");
        if (step == 0) throw PyOps.Fail("range() arg 3 must not be zero");
        var list = new List<object?>();
        RenderState.ChargeItems(Math.Min(100_001, (long)Int128.Max(0, Int128.Min(100_001, ((Int128)stop - start) / step + 1))));
        // Int128: the last step past long.MaxValue must end the range, not wrap around.
        for (Int128 i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            list.Add((long)i);
            if (list.Count > 100_000) throw PyOps.Fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        }
        return list;
    }

    private static long AsLong(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        System.Numerics.BigInteger => throw PyOps.Fail("Python int too large to convert to C ssize_t"),
        _ => throw PyOps.Fail($"'{PyOps.TypeName(v)}' object cannot be interpreted as an integer"),
    };

    /// <summary>transformers' strftime_now(format): the local time formatted with Python's strftime codes.</summary>
    private sealed class StrftimeNow : PyCallable
    {
        public override string Name => "strftime_now";

        public override object? Call(RenderState state, List<object?> args, List<KeyValuePair<string, object?>>? kwargs)
        {
            var now = state.Clock.GetLocalNow();
            string fmt = args.Count > 0 && args[0] is string f ? f : throw PyOps.Fail("strftime_now() needs a format string");
            return Strftime(now, fmt);
        }
    }

    public static string Strftime(DateTimeOffset t, string fmt)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < fmt.Length; i++)
        {
            if (fmt[i] != '%' || i + 1 >= fmt.Length) { sb.Append(fmt[i]); continue; }
            char c = fmt[++i];
            sb.Append(c switch
            {
                'd' => t.ToString("dd", inv),
                'b' or 'h' => t.ToString("MMM", inv),
                'B' => t.ToString("MMMM", inv),
                'm' => t.ToString("MM", inv),
                'Y' => t.ToString("yyyy", inv),
                'y' => t.ToString("yy", inv),
                'H' => t.ToString("HH", inv),
                'I' => t.ToString("hh", inv),
                'M' => t.ToString("mm", inv),
                'S' => t.ToString("ss", inv),
                'p' => t.ToString("tt", inv),
                'a' => t.ToString("ddd", inv),
                'A' => t.ToString("dddd", inv),
                'j' => t.DayOfYear.ToString("000", inv),
                'e' => t.Day.ToString(inv).PadLeft(2),
                '%' => "%",
                _ => "%" + c,
            });
        }
        return sb.ToString();
    }
}
