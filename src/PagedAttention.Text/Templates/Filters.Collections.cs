namespace PagedAttention.Text.Templates;

internal static partial class Filters
{
    /// <summary>Jinja's attribute paths: "a.b.0" walks items (then attributes), digits index lists.</summary>
    private static object? GetPath(object? v, object? path)
    {
        if (path is long l) return PyOps.GetItem(v, l);
        foreach (var part in Str(path).Split('.'))
        {
            v = long.TryParse(part, out var idx) ? PyOps.GetItem(v, idx) : PyOps.GetItem(v, part);
        }
        return v;
    }

    private static object? SortKey(object? v, bool caseSensitive) => !caseSensitive && v is string s ? s.ToLowerInvariant() : v;

    private static object? Unique(object? v, Args a)
    {
        bool cs = PyOps.Truthy(a.Get(0, "case_sensitive", false));
        var attr = a.Get(1, "attribute");
        // A set, as Jinja's unique: linear time, and unhashable keys (lists, dicts) fail as in Python.
        var seen = new HashSet<object>(PyKeyComparer.Instance);
        bool seenNone = false;
        var result = new List<object?>();
        foreach (var item in PyOps.Iterate(v))
        {
            var key = SortKey(attr is null ? item : GetPath(item, attr), cs);
            if (key is null ? !seenNone : seen.Add(PyKeyComparer.Hashable(key)))
            {
                if (key is null) seenNone = true;
                result.Add(item);
            }
        }
        return result;
    }

    private static object? DictSort(object? v, Args a, RenderState _)
    {
        if (v is not PyDict d) throw PyOps.Fail("dictsort needs a mapping");
        bool cs = PyOps.Truthy(a.Get(0, "case_sensitive", false));
        string by = a.Get(1, "by", "key") as string ?? "key";
        bool reverse = PyOps.Truthy(a.Get(2, "reverse", false));
        int pos = by == "value" ? 1 : 0;
        var pairs = d.Items.Select(kv => new object?[] { kv.Key, kv.Value }).ToList();
        var sorted = StableSort(pairs, p => SortKey(p[pos], cs), reverse);
        return sorted.Select(p => (object?)p).ToList();
    }

    private static List<T> StableSort<T>(List<T> items, Func<T, object?> key, bool reverse)
    {
        var indexed = items.Select((x, i) => (x, i, k: key(x))).ToList();
        try
        {
            indexed.Sort((p, q) =>
            {
                int c = PyOps.Compare(p.k, q.k);
                if (reverse) c = -c;
                return c != 0 ? c : p.i.CompareTo(q.i);
            });
        }
        catch (InvalidOperationException e) when (e.InnerException is TemplateException te)
        {
            // List.Sort wraps what the comparer throws; the template error is the one to report.
            throw new TemplateException(te.Detail, te.Line, te.Column, te);
        }
        return indexed.Select(p => p.x).ToList();
    }

    private static object? Sort(object? v, Args a, RenderState _)
    {
        bool reverse = PyOps.Truthy(a.Get(0, "reverse", false));
        bool cs = PyOps.Truthy(a.Get(1, "case_sensitive", false));
        var attr = a.Get(2, "attribute");
        return StableSort(new List<object?>(PyOps.Iterate(v)), x => SortKey(attr is null ? x : GetPath(x, attr), cs), reverse);
    }

    private static object? MinMax(object? v, Args a, int sign)
    {
        bool cs = PyOps.Truthy(a.Get(0, "case_sensitive", false));
        var attr = a.Get(1, "attribute");
        var items = PyOps.Iterate(v);
        if (items.Count == 0) return new Undefined($"No aggregated item, sequence was empty.");
        object? best = items[0];
        foreach (var x in items.Skip(1))
        {
            var kx = SortKey(attr is null ? x : GetPath(x, attr), cs);
            var kb = SortKey(attr is null ? best : GetPath(best, attr), cs);
            if (PyOps.Compare(kx, kb) * sign > 0) best = x;
        }
        return best;
    }

    private static object? Sum(object? v, Args a, RenderState _)
    {
        var attr = a.Get(0, "attribute");
        object? total = a.Get(1, "start", 0L);
        foreach (var x in PyOps.Iterate(v)) total = PyOps.Add(total, attr is null ? x : GetPath(x, attr));
        return total;
    }

    private static object? Map(object? v, Args a, RenderState state)
    {
        var result = new List<object?>();
        var items = PyOps.Iterate(v);
        if (a.Positional.Count == 0 && a.Has("attribute"))
        {
            var attr = a.Get(-1, "attribute");
            bool hasDefault = a.Has("default");
            var dflt = a.Get(-1, "default");
            foreach (var x in items)
            {
                var r = GetPath(x, attr);
                result.Add(r is Undefined && hasDefault ? dflt : r);
            }
            return result;
        }
        if (a.Positional.Count == 0) throw PyOps.Fail("map requires a filter argument");
        string filter = Str(a.Positional[0]);
        var rest = a.Positional.Skip(1).ToList();
        foreach (var x in items) result.Add(Apply(filter, x, rest, null, state));
        return result;
    }

    private static object? Select(object? v, Args a, RenderState state, bool attr, bool keep)
    {
        var pos = a.Positional;
        int k = 0;
        object? path = null;
        if (attr)
        {
            if (pos.Count == 0) throw PyOps.Fail("Missing parameter for attribute name");
            path = pos[k++];
        }
        string? test = pos.Count > k ? Str(pos[k++]) : null;
        var testArgs = pos.Skip(k).ToList();
        var result = new List<object?>();
        foreach (var x in PyOps.Iterate(v))
        {
            var subject = attr ? GetPath(x, path) : x;
            bool ok = test is null ? PyOps.Truthy(subject) : Tests.Apply(test, subject, testArgs);
            if (ok == keep) result.Add(x);
        }
        return result;
    }

    private static object? Batch(object? v, Args a, RenderState _)
    {
        long n = IntArg(a.Get(0, "linecount", 1L), "batch");
        var fill = a.Get(1, "fill_with");
        var result = new List<object?>();
        var cur = new List<object?>();
        // Jinja's loop exactly: a full batch is emitted when the next item arrives, so batch(0) yields [[], items].
        foreach (var x in PyOps.Iterate(v))
        {
            if (cur.Count == n)
            {
                result.Add(cur);
                cur = new List<object?>();
            }
            cur.Add(x);
        }
        if (cur.Count > 0)
        {
            if (fill is not null && cur.Count < n)
            {
                RenderState.ChargeItems(n - cur.Count);
                while (cur.Count < n) cur.Add(fill);
            }
            result.Add(cur);
        }
        return result;
    }
}
