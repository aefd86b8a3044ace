namespace PagedAttention.Text.Templates;

/// <summary>The Python str / dict / list methods templates call, e.g. <c>s.strip('\n')</c>, <c>d.items()</c>.</summary>
internal static class Methods
{
    private static readonly HashSet<string> StrMethods = new(StringComparer.Ordinal)
    {
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "replace", "upper", "lower",
        "title", "capitalize", "format", "join", "find", "rfind", "index", "count", "isdigit", "isalpha", "isalnum",
        "isspace", "isupper", "islower", "removeprefix", "removesuffix", "zfill", "center", "ljust", "rjust", "swapcase",
    };

    private static readonly HashSet<string> DictMethods = new(StringComparer.Ordinal) { "items", "keys", "values", "get", "copy" };

    private static readonly HashSet<string> ListMethods = new(StringComparer.Ordinal) { "index", "count", "copy" };

    // Methods ImmutableSandboxedEnvironment refuses: calling them is a SecurityError in transformers.
    private static readonly HashSet<string> MutatingMethods = new(StringComparer.Ordinal)
    {
        "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update", "setdefault", "popitem",
    };

    public static bool IsMethod(object obj, string name) => obj switch
    {
        string => StrMethods.Contains(name),
        PyDict => DictMethods.Contains(name) || MutatingMethods.Contains(name),
        List<object?> => ListMethods.Contains(name) || MutatingMethods.Contains(name),
        _ => false,
    };

    private static object? Arg(List<object?> args, int i, List<KeyValuePair<string, object?>>? kwargs, string name, object? dflt)
    {
        if (i < args.Count) return args[i];
        if (kwargs is not null) foreach (var kv in kwargs) if (kv.Key == name) return kv.Value;
        return dflt;
    }

    private static string? OptStr(object? v) => v is null or Undefined ? null : v as string ?? throw PyOps.Fail("expected a string argument");

    public static object? Call(object target, string name, List<object?> args, List<KeyValuePair<string, object?>>? kwargs)
    {
        switch (target)
        {
            case string s: return CallStr(s, name, args, kwargs);
            case PyDict d when !MutatingMethods.Contains(name):
                switch (name)
                {
                    case "items": return d.Items.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList();
                    case "keys": return d.Items.Keys.Cast<object?>().ToList();
                    case "values": return d.Items.Values.ToList();
                    case "get": return d.TryGet(Arg(args, 0, kwargs, "key", null), out var v) ? v : Arg(args, 1, kwargs, "default", null);
                    case "copy":
                        {
                            var c = new PyDict(d.Count);
                            foreach (var kv in d.Items) c.Set(kv.Key, kv.Value);
                            return c;
                        }
                }
                break;
            case List<object?> l when !MutatingMethods.Contains(name):
                switch (name)
                {
                    case "count": return (long)l.Count(x => PyOps.Eq(x, Arg(args, 0, kwargs, "value", null)));
                    case "copy": return new List<object?>(l);
                    case "index":
                        {
                            var x = Arg(args, 0, kwargs, "value", null);
                            for (int i = 0; i < l.Count; i++) if (PyOps.Eq(l[i], x)) return (long)i;
                            throw PyOps.Fail($"{PyFormat.Repr(x)} is not in list");
                        }
                }
                break;
        }
        throw PyOps.Fail($"access to attribute '{name}' of '{PyOps.TypeName(target)}' object is unsafe.");
    }

    private static object? CallStr(string s, string name, List<object?> args, List<KeyValuePair<string, object?>>? kw)
    {
        switch (name)
        {
            case "strip": return PyStr.Strip(s, OptStr(Arg(args, 0, kw, "chars", null)), true, true);
            case "lstrip": return PyStr.Strip(s, OptStr(Arg(args, 0, kw, "chars", null)), true, false);
            case "rstrip": return PyStr.Strip(s, OptStr(Arg(args, 0, kw, "chars", null)), false, true);
            case "split": return PyStr.Split(s, OptStr(Arg(args, 0, kw, "sep", null)), Arg(args, 1, kw, "maxsplit", -1L) as long? ?? -1);
            case "rsplit":
                {
                    var sep = OptStr(Arg(args, 0, kw, "sep", null));
                    long max = Arg(args, 1, kw, "maxsplit", -1L) as long? ?? -1;
                    if (max < 0 || sep is null) return PyStr.Split(s, sep, max);
                    var parts = new List<object?>();
                    string rest = s;
                    while (parts.Count < max)
                    {
                        int k = rest.LastIndexOf(sep, StringComparison.Ordinal);
                        if (k < 0) break;
                        parts.Insert(0, rest[(k + sep.Length)..]);
                        rest = rest[..k];
                    }
                    parts.Insert(0, rest);
                    return parts;
                }
            case "splitlines":
                {
                    var lines = s.Replace("\r\n", "\n").Replace('\r', '\n').Split('\n').Select(x => (object?)x).ToList();
                    if (lines.Count > 0 && ((string)lines[^1]!).Length == 0) lines.RemoveAt(lines.Count - 1);
                    return lines;
                }
            case "startswith": return Affix(s, Arg(args, 0, kw, "prefix", null), true);
            case "endswith": return Affix(s, Arg(args, 0, kw, "suffix", null), false);
            case "replace":
                {
                    string old = Str(Arg(args, 0, kw, "old", null), "replace"), neu = Str(Arg(args, 1, kw, "new", null), "replace");
                    return Replace(s, old, neu, Int(Arg(args, 2, kw, "count", -1L), "replace"));
                }
            case "upper": return s.ToUpperInvariant();
            case "lower": return s.ToLowerInvariant();
            case "title": return PyStr.Title(s);
            case "capitalize": return PyStr.Capitalize(s);
            case "swapcase": return string.Concat(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)));
            case "format": return PyStrFormat.Format(s, args, kw);
            case "join": return PyStr.Join(s, PyOps.Iterate(Arg(args, 0, kw, "iterable", null)));
            case "find": return PyStr.Find(s, Sub(args, kw), Arg(args, 1, kw, "start", null), Arg(args, 2, kw, "end", null), last: false);
            case "rfind": return PyStr.Find(s, Sub(args, kw), Arg(args, 1, kw, "start", null), Arg(args, 2, kw, "end", null), last: true);
            case "index":
                {
                    long k = PyStr.Find(s, Sub(args, kw), Arg(args, 1, kw, "start", null), Arg(args, 2, kw, "end", null), last: false);
                    return k >= 0 ? k : throw PyOps.Fail("substring not found");
                }
            case "count": return PyStr.Count(s, Sub(args, kw), Arg(args, 1, kw, "start", null), Arg(args, 2, kw, "end", null));
            case "isdigit": return s.Length > 0 && s.All(char.IsDigit);
            case "isalpha": return s.Length > 0 && s.All(char.IsLetter);
            case "isalnum": return s.Length > 0 && s.All(char.IsLetterOrDigit);
            case "isspace": return s.Length > 0 && s.All(PyStr.IsSpace);
            case "isupper": return s.Any(char.IsLetter) && !s.Any(char.IsLower);
            case "islower": return s.Any(char.IsLetter) && !s.Any(char.IsUpper);
            case "removeprefix": { var p = Str(Arg(args, 0, kw, "prefix", null), name); return s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s; }
            case "removesuffix": { var p = Str(Arg(args, 0, kw, "suffix", null), name); return p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s; }
            case "zfill": return PyStr.ZFill(s, Int(Arg(args, 0, kw, "width", null), "zfill"));
            case "ljust": return PyStr.Pad(s, Int(Arg(args, 0, kw, "width", null), "ljust"), FillChar(args, kw, "ljust"), left: false);
            case "rjust": return PyStr.Pad(s, Int(Arg(args, 0, kw, "width", null), "rjust"), FillChar(args, kw, "rjust"), left: true);
            case "center": return Filters.Center(s, Int(Arg(args, 0, kw, "width", null), "center"), FillChar(args, kw, "center"));
        }
        throw PyOps.Fail($"'str' object has no attribute '{name}'");
    }

    private static string Str(object? v, string method) =>
        v as string ?? throw PyOps.Fail($"{method}() argument must be str, not {PyOps.TypeName(v)}");

    private static string Sub(List<object?> args, List<KeyValuePair<string, object?>>? kw) => Str(Arg(args, 0, kw, "sub", null), "find");

    private static long Int(object? v, string method) =>
        PyInt.IsInt(v) ? PyInt.Clamp(v!) : throw PyOps.Fail($"{method}() argument must be an integer, not {PyOps.TypeName(v)}");

    private static char FillChar(List<object?> args, List<KeyValuePair<string, object?>>? kw, string method)
    {
        var f = Arg(args, 1, kw, "fillchar", " ");
        return f is string { Length: 1 } c ? c[0] : throw PyOps.Fail($"{method}() argument 2 must be a single character");
    }

    public static string Replace(string s, string old, string neu, long count)
    {
        // The result can be far longer than both inputs ('x' * 10**6).replace('', 'y' * 10**6): charge it first.
        long hits = old.Length == 0 ? PyStr.Length(s) + 1 : neu.Length > old.Length ? (s.Length / old.Length) : 0;
        if (count >= 0) hits = Math.Min(hits, count);
        RenderState.Charge(s.Length + hits * (long)neu.Length);
        if (count < 0 && old.Length > 0) return s.Replace(old, neu, StringComparison.Ordinal);
        if (count < 0) return InsertBetween(s, neu);
        var sb = new System.Text.StringBuilder();
        if (old.Length == 0)
        {
            // Python inserts before each code point and at the end, count times at most.
            var chars = PyStr.Chars(s);
            long n = 0;
            for (int i = 0; i <= chars.Count; i++)
            {
                if (n++ < count) sb.Append(neu);
                if (i < chars.Count) sb.Append((string)chars[i]!);
            }
            return sb.ToString();
        }
        int start = 0;
        for (long n = 0; n < count; n++)
        {
            int k = s.IndexOf(old, start, StringComparison.Ordinal);
            if (k < 0) break;
            sb.Append(s, start, k - start).Append(neu);
            start = k + old.Length;
        }
        return sb.Append(s, start, s.Length - start).ToString();
    }

    private static string InsertBetween(string s, string neu) => neu + string.Concat(PyStr.Chars(s).Select(c => (string)c! + neu));

    private static bool Affix(string s, object? arg, bool prefix)
    {
        if (arg is object?[] options) return options.Any(o => Affix(s, o, prefix));
        if (arg is not string a) throw PyOps.Fail($"{(prefix ? "startswith" : "endswith")} first arg must be str or a tuple of str, not {PyOps.TypeName(arg)}");
        return prefix ? s.StartsWith(a, StringComparison.Ordinal) : s.EndsWith(a, StringComparison.Ordinal);
    }
}
