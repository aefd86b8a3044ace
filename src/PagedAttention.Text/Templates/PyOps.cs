using System.Numerics;
using System.Text;

namespace PagedAttention.Text.Templates;

/// <summary>Python semantics for the operators, truthiness, equality and iteration that templates rely on.</summary>
internal static partial class PyOps
{
    public static TemplateException Fail(string message) => new(message, 0, 0);

    public static TemplateException UndefinedFail(Undefined u) => new(u.Hint, 0, 0);

    public static bool Truthy(object? v) => v switch
    {
        null => false,
        bool b => b,
        string s => s.Length > 0,
        long l => l != 0,
        double d => d != 0,
        Undefined => false,
        List<object?> l => l.Count > 0,
        PyDict d => d.Count > 0,
        object?[] t => t.Length > 0,
        BigInteger bi => !bi.IsZero,
        _ => true,
    };

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        bool => "bool",
        long or BigInteger => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        object?[] => "tuple",
        PyDict => "dict",
        Undefined => "Undefined",
        PyNamespace => "Namespace",
        LoopInfo => "LoopContext",
        PyCallable => "function",
        _ => v.GetType().Name,
    };

    /// <summary>How Jinja names an object in "... has no attribute" messages.</summary>
    public static string TypeDescription(object? v) => v is null ? "None" : $"'{TypeName(v)} object'";

    private static bool IsNumber(object? v) => v is long or double or bool or BigInteger;

    private static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        BigInteger bi => PyInt.ToDouble(bi),
        _ => throw Fail($"expected a number, got {TypeName(v)}"),
    };

    private static long ToLong(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw Fail($"expected an integer, got {TypeName(v)}"),
    };

    public static bool Eq(object? a, object? b)
    {
        if (ReferenceEquals(a, b)) return true;
        switch (a)
        {
            case string sa: return b is string sb && string.Equals(sa, sb, StringComparison.Ordinal);
            case null: return b is null;
            case Undefined: return b is Undefined;
            case List<object?> la:
                {
                    if (b is not List<object?> lb || la.Count != lb.Count) return false;
                    for (int i = 0; i < la.Count; i++) if (!Eq(la[i], lb[i])) return false;
                    return true;
                }
            case object?[] ta:
                {
                    if (b is not object?[] tb || ta.Length != tb.Length) return false;
                    for (int i = 0; i < ta.Length; i++) if (!Eq(ta[i], tb[i])) return false;
                    return true;
                }
            case PyDict da:
                {
                    if (b is not PyDict db || da.Count != db.Count) return false;
                    foreach (var kv in da.Items)
                        if (!db.TryGet(kv.Key, out var other) || !Eq(kv.Value, other)) return false;
                    return true;
                }
        }
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) == ToDouble(b);
            if (a is BigInteger || b is BigInteger) return ToBig(a) == ToBig(b);
            return ToLong(a) == ToLong(b);
        }
        return Equals(a, b);
    }

    private static BigInteger ToBig(object? v) => v is BigInteger bi ? bi : new BigInteger(ToLong(v));

    /// <summary>Ordering for &lt; &gt; and sort: numbers with numbers, str with str, lists element-wise.</summary>
    public static int Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a).CompareTo(ToDouble(b));
            if (a is BigInteger || b is BigInteger) return ToBig(a).CompareTo(ToBig(b));
            return ToLong(a).CompareTo(ToLong(b));
        }
        if (a is string sa && b is string sb) return CompareCodePoints(sa, sb);
        if (a is List<object?> or object?[] && b is List<object?> or object?[])
        {
            var la = AsList(a);
            var lb = AsList(b);
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                if (!Eq(la[i], lb[i])) return Compare(la[i], lb[i]);
            }
            return la.Count.CompareTo(lb.Count);
        }
        if (a is Undefined u) throw UndefinedFail(u);
        if (b is Undefined u2) throw UndefinedFail(u2);
        throw Fail($"'<' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    // Python compares strings by code point; ordinal UTF-16 order differs only across surrogates.
    private static int CompareCodePoints(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++)
        {
            char x = a[i], y = b[i];
            if (x == y) continue;
            bool sx = char.IsSurrogate(x), sy = char.IsSurrogate(y);
            if (sx != sy) return sx ? 1 : -1;
            return x.CompareTo(y);
        }
        return a.Length.CompareTo(b.Length);
    }

    public static IReadOnlyList<object?> AsList(object? v) => v switch
    {
        List<object?> l => l,
        object?[] t => t,
        _ => Iterate(v),
    };

    /// <summary>What a for loop walks: list items, dict keys, string code points; Undefined is empty.</summary>
    public static IReadOnlyList<object?> Iterate(object? v)
    {
        switch (v)
        {
            case List<object?> l: return l;
            case object?[] t: return t;
            case PyDict d:
                {
                    var keys = new List<object?>(d.Count);
                    foreach (var kv in d.Items) keys.Add(kv.Key);
                    return keys;
                }
            case string s: return PyStr.Chars(s);
            case Undefined: return Array.Empty<object?>();
            default: throw Fail($"'{TypeName(v)}' object is not iterable");
        }
    }

    public static long Length(object? v) => v switch
    {
        string s => PyStr.Length(s),
        List<object?> l => l.Count,
        object?[] t => t.Length,
        PyDict d => d.Count,
        Undefined => 0,
        _ => throw Fail($"object of type '{TypeName(v)}' has no len()"),
    };

    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case string s:
                if (item is string sub) return s.Contains(sub, StringComparison.Ordinal);
                if (item is Undefined u) throw UndefinedFail(u);
                throw Fail($"'in <string>' requires string as left operand, not {TypeName(item)}");
            case PyDict d: return item is not null && d.TryGet(PyKeyComparer.Hashable(item), out _);
            case List<object?> or object?[]:
                foreach (var x in AsList(container)) if (Eq(x, item)) return true;
                return false;
            case Undefined: return false; // Python falls back to Undefined.__iter__, which is empty
            default: throw Fail($"argument of type '{TypeName(container)}' is not iterable");
        }
    }

    public static object? Concat(object? a, object? b)
    {
        string x = PyFormat.Str(a), y = PyFormat.Str(b);
        RenderState.Charge((long)x.Length + y.Length);
        return string.Concat(x, y);
    }

    public static object? Add(object? a, object? b)
    {
        if (a is string sa && b is string sb)
        {
            RenderState.Charge((long)sa.Length + sb.Length);
            return string.Concat(sa, sb);
        }
        if (a is Undefined ua) throw UndefinedFail(ua);
        if (b is Undefined ub) throw UndefinedFail(ub);
        if (a is List<object?> la && b is List<object?> lb)
        {
            RenderState.ChargeItems((long)la.Count + lb.Count);
            var r = new List<object?>(la.Count + lb.Count);
            r.AddRange(la);
            r.AddRange(lb);
            return r;
        }
        if (a is object?[] ta && b is object?[] tb)
        {
            RenderState.ChargeItems((long)ta.Length + tb.Length);
            return ta.Concat(tb).ToArray();
        }
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) + ToDouble(b);
            return PyInt.Add(a!, b!);
        }
        if (a is string) throw Fail($"can only concatenate str (not \"{TypeName(b)}\") to str");
        if (a is List<object?>) throw Fail($"can only concatenate list (not \"{TypeName(b)}\") to list");
        throw Fail($"unsupported operand type(s) for +: '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static object? Arith(string op, object? a, object? b)
    {
        if (a is Undefined ua) throw UndefinedFail(ua);
        if (b is Undefined ub) throw UndefinedFail(ub);
        if (op == "*")
        {
            if (a is string s && PyInt.IsInt(b)) return Repeat(s, PyInt.Clamp(b));
            if (b is string s2 && PyInt.IsInt(a)) return Repeat(s2, PyInt.Clamp(a));
            if (a is List<object?> l && PyInt.IsInt(b)) return RepeatList(l, PyInt.Clamp(b));
            if (b is List<object?> l2 && PyInt.IsInt(a)) return RepeatList(l2, PyInt.Clamp(a));
        }
        if (op == "%" && a is string fmt) return PyStrFormat.Percent(fmt, b);
        if (!IsNumber(a) || !IsNumber(b))
            throw Fail($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");
        bool isFloat = a is double || b is double;
        switch (op)
        {
            case "-": return isFloat ? ToDouble(a) - ToDouble(b) : PyInt.Sub(a!, b!);
            case "*": return isFloat ? ToDouble(a) * ToDouble(b) : PyInt.Mul(a!, b!);
            case "/":
                if (IsZero(b)) throw Fail("division by zero");
                if (!isFloat && (a is BigInteger || b is BigInteger)) return TrueDivide(PyInt.Big(a), PyInt.Big(b));
                return ToDouble(a) / ToDouble(b);
            case "//":
                if (IsZero(b)) throw Fail(isFloat ? "float floor division by zero" : "integer division or modulo by zero");
                if (isFloat) return Math.Floor(ToDouble(a) / ToDouble(b));
                return PyInt.FloorDiv(a!, b!);
            case "%":
                if (IsZero(b)) throw Fail(isFloat ? "float modulo" : "integer division or modulo by zero");
                if (isFloat)
                {
                    double x = ToDouble(a), y = ToDouble(b), m = x % y;
                    if (m != 0 && (m < 0) != (y < 0)) m += y;
                    return m;
                }
                return PyInt.Mod(a!, b!);
            case "**":
                if (!isFloat && PyInt.Big(b).Sign >= 0) return PyInt.Pow(a!, b!);
                {
                    double x = ToDouble(a), y = ToDouble(b);
                    if (x == 0 && y < 0) throw Fail("0.0 cannot be raised to a negative power");
                    double r = Math.Pow(x, y);
                    if (double.IsNaN(r) && !double.IsNaN(x) && !double.IsNaN(y)) throw Fail("complex results are not supported");
                    if (double.IsInfinity(r) && double.IsFinite(x) && double.IsFinite(y)) throw Fail("(34, 'Numerical result out of range')");
                    return r;
                }
            default: throw Fail($"unknown operator {op}");
        }
    }

    private static bool IsZero(object? v) => v is double d ? d == 0 : PyInt.Big(v).IsZero;

    // int / int is correctly rounded in Python even for big ints; via double is exact enough unless both are huge.
    private static double TrueDivide(BigInteger a, BigInteger b)
    {
        double x = (double)a, y = (double)b;
        if (double.IsFinite(x) && double.IsFinite(y)) return x / y;
        int shift = (int)Math.Max(0, Math.Max(a.GetBitLength(), b.GetBitLength()) - 1000);
        double r = (double)(a >> shift) / (double)(b >> shift);
        return double.IsFinite(r) ? r : throw Fail("integer division result too large for a float");
    }

    private static string Repeat(string s, long n)
    {
        if (n <= 0 || s.Length == 0) return "";
        RenderState.Charge(n, s.Length); // fails before allocating 'a' * 10**10
        if (n * s.Length > Array.MaxLength) throw Fail("cannot fit 'int' into an index-sized integer");
        var sb = new StringBuilder(s.Length * (int)n);
        for (long i = 0; i < n; i++) sb.Append(s);
        return sb.ToString();
    }

    private static List<object?> RepeatList(List<object?> l, long n)
    {
        if (n <= 0 || l.Count == 0) return new List<object?>();
        RenderState.Charge(n, l.Count * RenderState.UnitsPerItem);
        if (n * l.Count > Array.MaxLength) throw Fail("cannot fit 'int' into an index-sized integer");
        var r = new List<object?>((int)(n * l.Count));
        for (long i = 0; i < n; i++) r.AddRange(l);
        return r;
    }

    public static object? Negate(object? v) => v switch
    {
        long or BigInteger => PyInt.Neg(v),
        double d => (object)(-d),
        bool b => b ? -1L : 0L,
        Undefined u => throw UndefinedFail(u),
        _ => throw Fail($"bad operand type for unary -: '{TypeName(v)}'"),
    };
}
