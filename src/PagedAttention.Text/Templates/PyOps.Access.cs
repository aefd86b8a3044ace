namespace PagedAttention.Text.Templates;

internal static partial class PyOps
{
    /// <summary><c>x.name</c>: Jinja tries the attribute (a method of dict/str/list) first, then the item.</summary>
    public static object? GetAttr(object? obj, string name)
    {
        switch (obj)
        {
            case Undefined u: throw UndefinedFail(u);
            case PyDict d:
                if (Methods.IsMethod(obj, name)) return new BoundMethod(d, name);
                return d.TryGet(name, out var v) ? v : Undefined.NoAttribute(obj, name);
            case PyNamespace ns:
                return ns.Attributes.TryGetValue(name, out var nv) ? nv : Undefined.NoAttribute(obj, name);
            case LoopInfo loop: return loop.Attribute(name);
            case null: return Undefined.NoAttribute(obj, name);
            default:
                return Methods.IsMethod(obj, name) ? new BoundMethod(obj, name) : Undefined.NoAttribute(obj, name);
        }
    }

    /// <summary><c>x[key]</c>: Jinja tries the item first, then (for a string key) the attribute.</summary>
    public static object? GetItem(object? obj, object? key)
    {
        switch (obj)
        {
            case Undefined u: throw UndefinedFail(u);
            case PyDict d:
                if (d.TryGet(key, out var v)) return v;
                break;
            case List<object?> or object?[]:
                if (key is long or bool)
                {
                    var list = AsList(obj);
                    long i = key is bool b ? (b ? 1 : 0) : (long)key;
                    if (i < 0) i += list.Count;
                    if (i >= 0 && i < list.Count) return list[(int)i];
                    return Undefined.NoItem(obj, key);
                }
                break;
            case string s:
                if (key is long idx)
                {
                    var cps = PyStr.Chars(s);
                    if (idx < 0) idx += cps.Count;
                    if (idx >= 0 && idx < cps.Count) return cps[(int)idx];
                    return Undefined.NoItem(obj, key);
                }
                break;
            case PyNamespace or LoopInfo:
                if (key is string attr) return GetAttr(obj, attr);
                break;
        }
        if (key is string name && obj is not null && Methods.IsMethod(obj, name)) return new BoundMethod(obj, name);
        return Undefined.NoItem(obj, key);
    }

    /// <summary>Python slicing <c>x[a:b:c]</c> on lists, tuples and strings (by code point).</summary>
    public static object? Slice(object? obj, object? start, object? stop, object? step)
    {
        if (obj is Undefined u) throw UndefinedFail(u);
        // A non-integer bound is a TypeError in Python, which Jinja's getitem turns into Undefined.
        if (!IsBound(start) || !IsBound(stop) || !IsBound(step)) return Undefined.NoItem(obj, "slice");
        long st = step is null or Undefined ? 1 : PyInt.Clamp(step!);
        if (st == 0) throw Fail("slice step cannot be zero");
        if (st == long.MinValue) st = long.MinValue + 1; // so that i += st cannot wrap past the start
        IReadOnlyList<object?> items = obj switch
        {
            string s => PyStr.Chars(s),
            List<object?> or object?[] => AsList(obj),
            _ => throw Fail($"'{TypeName(obj)}' object is not subscriptable"),
        };
        int n = items.Count;
        long lo, hi;
        if (st > 0)
        {
            lo = Clamp(start, n, 0, 0, n);
            hi = Clamp(stop, n, n, 0, n);
        }
        else
        {
            lo = Clamp(start, n, n - 1, -1, n - 1);
            hi = Clamp(stop, n, -1, -1, n - 1);
        }
        var result = new List<object?>();
        // i and hi stay within [-1, n], so their distance cannot overflow where i + st could.
        if (st > 0) for (long i = lo; i < hi; i = hi - i <= st ? hi : i + st) result.Add(items[(int)i]);
        else for (long i = lo; i > hi; i = i - hi <= -st ? hi : i + st) result.Add(items[(int)i]);
        return obj switch
        {
            string => string.Concat(result.Cast<string>()),
            object?[] => result.ToArray(),
            _ => result,
        };
    }

    private static bool IsBound(object? v) => v is null or Undefined || PyInt.IsInt(v);

    private static long Clamp(object? bound, int n, long dflt, long min, long max)
    {
        if (bound is null or Undefined) return dflt;
        long v = PyInt.Clamp(bound);
        if (v < 0) v = v < -n ? -1 - n : v + n;
        return Math.Clamp(v, min, max);
    }
}
