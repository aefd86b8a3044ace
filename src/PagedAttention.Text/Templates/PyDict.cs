using System.Numerics;

namespace PagedAttention.Text.Templates;

/// <summary>A Python dict: insertion-ordered, keys compared with Python equality (1 == 1.0 == True).</summary>
internal sealed class PyDict
{
    public PyDict() => Items = new OrderedDictionary<object, object?>(PyKeyComparer.Instance);

    public PyDict(int capacity) => Items = new OrderedDictionary<object, object?>(capacity, PyKeyComparer.Instance);

    public OrderedDictionary<object, object?> Items { get; }

    public int Count => Items.Count;

    public bool TryGet(object? key, out object? value)
    {
        // An unhashable key cannot be in the dict; Jinja's getitem turns Python's TypeError into Undefined.
        if (key is null or List<object?> or PyDict) { value = null; return false; }
        return Items.TryGetValue(key, out value);
    }

    public void Set(object key, object? value) => Items[PyKeyComparer.Hashable(key)] = value;
}

/// <summary>Hashing and equality for dict keys, following Python (numbers equal across int/float/bool).</summary>
internal sealed class PyKeyComparer : IEqualityComparer<object>
{
    public static readonly PyKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) => PyOps.Eq(x, y);

    /// <summary>The key itself, or a TemplateException as Python's <c>unhashable type: 'list'</c> (lists, dicts, tuples holding them).</summary>
    public static object Hashable(object key)
    {
        switch (key)
        {
            case List<object?>: throw PyOps.Fail("unhashable type: 'list'");
            case PyDict: throw PyOps.Fail("unhashable type: 'dict'");
            case object?[] t:
                foreach (var item in t) if (item is not null) Hashable(item);
                return key;
            default: return key;
        }
    }

    public int GetHashCode(object obj) => obj switch
    {
        string s => s.GetHashCode(StringComparison.Ordinal),
        bool b => b ? 1 : 0,
        long l => l.GetHashCode(),
        BigInteger bi => bi.GetHashCode(),
        double d when d == Math.Floor(d) && Math.Abs(d) < 9e18 => ((long)d).GetHashCode(),
        object?[] t => t.Length,
        _ => obj.GetHashCode(),
    };
}
