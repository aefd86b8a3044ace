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
        if (key is null) { value = null; return false; }
        return Items.TryGetValue(key, out value);
    }

    public void Set(object key, object? value) => Items[key] = value;
}

/// <summary>Hashing and equality for dict keys, following Python (numbers equal across int/float/bool).</summary>
internal sealed class PyKeyComparer : IEqualityComparer<object>
{
    public static readonly PyKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) => PyOps.Eq(x, y);

    public int GetHashCode(object obj) => obj switch
    {
        string s => s.GetHashCode(StringComparison.Ordinal),
        bool b => b ? 1 : 0,
        long l => l.GetHashCode(),
        double d when d == Math.Floor(d) && Math.Abs(d) < 9e18 => ((long)d).GetHashCode(),
        object?[] t => t.Length,
        _ => obj.GetHashCode(),
    };
}
