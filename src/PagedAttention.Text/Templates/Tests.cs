using System.Numerics;

namespace PagedAttention.Text.Templates;

/// <summary>Jinja tests (<c>x is defined</c>, also named by string in select/reject/selectattr).</summary>
internal static class Tests
{
    private static readonly Dictionary<string, Func<object?, List<object?>, bool>> Table = new(StringComparer.Ordinal)
    {
        ["defined"] = (v, _) => v is not Undefined,
        ["undefined"] = (v, _) => v is Undefined,
        ["none"] = (v, _) => v is null,
        ["true"] = (v, _) => v is true,
        ["false"] = (v, _) => v is false,
        ["boolean"] = (v, _) => v is bool,
        ["string"] = (v, _) => v is string,
        ["number"] = (v, _) => v is long or double or bool or BigInteger,
        ["integer"] = (v, _) => v is long or BigInteger,
        ["float"] = (v, _) => v is double,
        ["mapping"] = (v, _) => v is PyDict,
        ["sequence"] = (v, _) => v is string or List<object?> or object?[] or PyDict,
        ["iterable"] = (v, _) => v is string or List<object?> or object?[] or PyDict or Undefined,
        ["callable"] = (v, _) => v is PyCallable,
        ["lower"] = (v, _) => v is string s && s == s.ToLowerInvariant(),
        ["upper"] = (v, _) => v is string s && s == s.ToUpperInvariant(),
        ["odd"] = (v, _) => v is long or BigInteger ? !PyInt.Big(v).IsEven : v is bool b ? b : throw PyOps.Fail($"unsupported operand type(s) for %: '{PyOps.TypeName(v)}' and 'int'"),
        ["even"] = (v, _) => v is long or BigInteger ? PyInt.Big(v).IsEven : v is bool b ? !b : throw PyOps.Fail($"unsupported operand type(s) for %: '{PyOps.TypeName(v)}' and 'int'"),
        ["divisibleby"] = (v, a) => PyOps.Eq(PyOps.Arith("%", v, a[0]), 0L),
        ["eq"] = (v, a) => PyOps.Eq(v, a[0]),
        ["ne"] = (v, a) => !PyOps.Eq(v, a[0]),
        ["lt"] = (v, a) => PyOps.Compare(v, a[0]) < 0,
        ["le"] = (v, a) => PyOps.Compare(v, a[0]) <= 0,
        ["gt"] = (v, a) => PyOps.Compare(v, a[0]) > 0,
        ["ge"] = (v, a) => PyOps.Compare(v, a[0]) >= 0,
        ["in"] = (v, a) => PyOps.Contains(a[0], v),
        ["sameas"] = (v, a) => v is null ? a[0] is null : v is bool or long ? PyOps.Eq(v, a[0]) && v.GetType() == a[0]?.GetType() : ReferenceEquals(v, a[0]),
        ["escaped"] = (_, _) => false,
        ["filter"] = (v, _) => v is string s && Filters.Exists(s),
        ["test"] = (v, _) => v is string s && Table!.ContainsKey(s),
    };

    static Tests()
    {
        foreach (var (alias, name) in new[] { ("equalto", "eq"), ("==", "eq"), ("!=", "ne"), ("lessthan", "lt"), ("<", "lt"), ("<=", "le"), ("greaterthan", "gt"), (">", "gt"), (">=", "ge") })
            Table[alias] = Table[name];
    }

    public static bool Exists(string name) => Table.ContainsKey(name);

    public static bool Apply(string name, object? value, List<object?> args)
    {
        if (!Table.TryGetValue(name, out var test)) throw PyOps.Fail($"No test named '{name}'.");
        if (args.Count == 0 && name is "eq" or "ne" or "lt" or "le" or "gt" or "ge" or "in" or "sameas" or "divisibleby" or "equalto")
            throw PyOps.Fail($"test '{name}' needs an argument");
        return test(value, args);
    }
}
