using System.Text;

namespace PagedAttention.Tests.Templates;

/// <summary>
/// Random templates for the fuzz tests: sentences of the supported Jinja grammar (statements, expressions, filters,
/// tests, methods, with hostile numbers mixed in), mutations of the real model templates, and deep or recursive ones.
/// Deterministic for a seed.
/// </summary>
internal sealed class TemplateFuzz(int seed)
{
    private static readonly string[] Names = ["messages", "m", "x", "i", "loop", "ns", "tools", "d", "l", "s", "n", "undefined_thing", "add_generation_prompt", "bos_token"];
    private static readonly string[] Filters = ["length", "tojson", "trim", "upper", "lower", "title", "capitalize", "string", "first", "last", "list", "items", "default", "join", "replace", "int", "float", "abs", "round", "unique", "dictsort", "sort", "reverse", "indent", "center", "wordcount", "truncate", "format", "min", "max", "sum", "map", "select", "reject", "selectattr", "rejectattr", "batch", "attr", "safe", "e", "count"];
    private static readonly string[] Tests = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "sequence", "iterable", "odd", "even", "divisibleby", "eq", "in", "true", "false", "callable", "lower", "upper"];
    private static readonly string[] Methods = ["strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "replace", "upper", "lower", "title", "format", "join", "find", "rfind", "index", "count", "center", "ljust", "rjust", "zfill", "items", "keys", "values", "get", "copy", "append", "pop"];
    private static readonly string[] BinOps = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">", "<=", ">=", "in", "not in", "and", "or"];
    private static readonly string[] Atoms = ["0", "1", "-1", "2", "7", "255", "0.5", "-0.0", "1e308", "1e-308", "9223372036854775807", "-9223372036854775808", "10**20", "10**9", "2**63", "'a'", "''", "'😀'", "'{0}'", "'%s'", "'%(a)s'", "'\\n'", "none", "true", "false", "[]", "[1, 2, 3]", "['b', 'a']", "{}", "{'a': 1}", "(1, 'a')", "range(5)", "messages", "messages[0]", "messages[0].content", "loop", "namespace(a=1)", "x", "s", "l", "d", "n", "undefined_thing"];
    private static readonly string[] Noise = ["{%", "%}", "{{", "}}", "{#", "#}", "(", ")", "[", "]", "{", "}", "'", "\"", "|", "not ", "-", "+", ".", ",", ":", "loop.", " if ", " else ", "{% endfor %}", "{% endif %}", "{% for x in range(3) %}", "{% if x %}", "{% set y = 1 %}", "10**10", "9" + new string('9', 30), "\\", "\n", "{%-", "-%}", "{% break %}", "{{ caller() }}"];

    private readonly Random _r = new(seed);

    private T Pick<T>(T[] items) => items[_r.Next(items.Length)];

    private bool Chance(int percent) => _r.Next(100) < percent;

    public string Expr(int depth = 0)
    {
        if (depth > 4 || Chance(30)) return Pick(Atoms);
        return _r.Next(9) switch
        {
            0 => $"{Expr(depth + 1)} {Pick(BinOps)} {Expr(depth + 1)}",
            1 => $"{Expr(depth + 1)}|{Pick(Filters)}{(Chance(50) ? $"({Args(depth)})" : "")}",
            2 => $"{Expr(depth + 1)} is {(Chance(20) ? "not " : "")}{Pick(Tests)}{(Chance(30) ? " " + Pick(Atoms) : "")}",
            3 => $"{Expr(depth + 1)}.{Pick(Methods)}({Args(depth)})",
            4 => $"{Expr(depth + 1)}[{Expr(depth + 1)}]",
            5 => $"{Expr(depth + 1)}[{(Chance(50) ? Expr(depth + 1) : "")}:{(Chance(50) ? Expr(depth + 1) : "")}{(Chance(40) ? ":" + Expr(depth + 1) : "")}]",
            6 => $"({Expr(depth + 1)} if {Expr(depth + 1)} else {Expr(depth + 1)})",
            7 => $"{(Chance(50) ? "not " : "-")}{Expr(depth + 1)}",
            _ => $"[{Expr(depth + 1)}, {Expr(depth + 1)}]",
        };
    }

    private string Args(int depth)
    {
        int n = _r.Next(4);
        var parts = new List<string>();
        for (int i = 0; i < n; i++) parts.Add(Chance(25) ? $"{Pick(["indent", "width", "first", "attribute", "default", "reverse", "count", "case_sensitive"])}={Expr(depth + 2)}" : Expr(depth + 2));
        return string.Join(", ", parts.OrderBy(p => p.Contains('=') && !p.Contains("==")));
    }

    public string Statements(int depth = 0, bool inLoop = false)
    {
        var sb = new StringBuilder();
        int n = 1 + _r.Next(4);
        for (int i = 0; i < n; i++)
        {
            if (depth > 3) { sb.Append("{{ ").Append(Expr()).Append(" }}"); continue; }
            switch (_r.Next(10))
            {
                case 0: sb.Append("text ").Append(_r.Next(10)).Append('\n'); break;
                case 1 or 2: sb.Append("{{ ").Append(Expr()).Append(" }}"); break;
                case 3: sb.Append("{% if ").Append(Expr()).Append(" %}").Append(Statements(depth + 1, inLoop)).Append(Chance(50) ? "{% else %}" + Statements(depth + 1, inLoop) : "").Append("{% endif %}"); break;
                case 4: sb.Append("{% for x in ").Append(Chance(50) ? Expr() : "range(" + Pick(["3", "1000", "100000", "10**20", "-1"]) + ")").Append(Chance(30) ? " if " + Expr() : "").Append(" %}").Append(Statements(depth + 1, true)).Append("{% endfor %}"); break;
                case 5: sb.Append("{% set ").Append(Pick(["x", "y", "s"])).Append(" = ").Append(Expr()).Append(" %}"); break;
                case 6: sb.Append("{% set ns = namespace(a=").Append(Expr()).Append(") %}{% set ns.a = ns.a ~ ").Append(Expr()).Append(" %}{{ ns.a }}"); break;
                case 7: sb.Append("{% macro f(a, b=").Append(Expr()).Append(") %}").Append(Statements(depth + 1)).Append("{% endmacro %}{{ f(").Append(Expr()).Append(") }}"); break;
                case 8: sb.Append(inLoop && Chance(50) ? Pick(["{% break %}", "{% continue %}"]) : "{% filter " + Pick(["upper", "trim", "indent(2)", "center(5)"]) + " %}" + Statements(depth + 1, inLoop) + "{% endfilter %}"); break;
                default: sb.Append("{%- if true -%}\n  {{ ").Append(Expr()).Append(" }}\n{%- endif %}"); break;
            }
        }
        return sb.ToString();
    }

    /// <summary>A real template with a few random edits: spans deleted, duplicated or moved, noise inserted, numbers blown up.</summary>
    public string Mutate(string source)
    {
        var s = new StringBuilder(source);
        int edits = 1 + _r.Next(4);
        for (int k = 0; k < edits && s.Length > 0; k++)
        {
            int at = _r.Next(s.Length);
            int len = Math.Min(s.Length - at, 1 + _r.Next(40));
            switch (_r.Next(5))
            {
                case 0: s.Remove(at, len); break;
                case 1: s.Insert(at, s.ToString(at, len)); break;
                case 2: s.Insert(at, Pick(Noise)); break;
                case 3:
                    {
                        var piece = s.ToString(at, len);
                        s.Remove(at, len);
                        s.Insert(_r.Next(s.Length + 1), piece);
                        break;
                    }
                default: s.Insert(at, "{{ " + Expr() + " }}"); break;
            }
        }
        return s.ToString();
    }

    /// <summary>Deep or recursive templates: the stack-overflow class of bugs, run in a child process.</summary>
    public static IEnumerable<string> Hostile()
    {
        foreach (int n in new[] { 500, 5_000, 50_000 })
        {
            yield return string.Concat(Enumerable.Repeat("{% if true %}", n)) + "x" + string.Concat(Enumerable.Repeat("{% endif %}", n));
            yield return string.Concat(Enumerable.Repeat("{% for i in [1] %}", n)) + "x" + string.Concat(Enumerable.Repeat("{% endfor %}", n));
            yield return string.Concat(Enumerable.Repeat("{% filter upper %}", n)) + "x" + string.Concat(Enumerable.Repeat("{% endfilter %}", n));
            yield return string.Concat(Enumerable.Repeat("{% set x %}", n)) + "x" + string.Concat(Enumerable.Repeat("{% endset %}", n));
            yield return "{{ " + new string('(', n) + "1" + new string(')', n) + " }}";
            yield return "{{ " + new string('[', n) + new string(']', n) + " }}";
            yield return "{{ " + string.Concat(Enumerable.Repeat("{'a': ", n)) + "1" + new string('}', n) + " }}";
            yield return "{{ " + string.Concat(Enumerable.Repeat("not ", n)) + "1 }}";
            yield return "{{ " + new string('-', n) + "1 }}";
            yield return "{{ " + string.Join(" ~ ", Enumerable.Repeat("'a'", n)) + " }}";
            yield return "{{ x" + string.Concat(Enumerable.Repeat("|string", n)) + " }}";
            yield return "{{ 1" + string.Concat(Enumerable.Repeat(" if true else 1", n)) + " }}";
            yield return "{{ f" + string.Concat(Enumerable.Repeat("()", n)) + " }}";
            yield return "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(" + n + ") }}";
            yield return "{% macro f(n) %}{% call f(n - 1) %}{{ caller() }}{% endcall %}{% endmacro %}{{ f(" + n + ") }}";
        }
        yield return "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}";
        yield return "{% macro f() %}{{ caller() }}{% endmacro %}{% call f() %}{{ f() }}{% endcall %}";
        yield return "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}";
        yield return "{% set ns = namespace(f=none) %}{% macro g() %}{{ ns.f() }}{% endmacro %}{% set ns.f = g %}{{ g() }}";
        yield return "{% for x in messages %}{{ x|tojson }}{% endfor %}";
    }
}
