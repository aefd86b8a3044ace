using System.Runtime.CompilerServices;
using System.Globalization;
using System.Numerics;

namespace PagedAttention.Text.Templates;

internal sealed partial class Parser
{
    private static readonly HashSet<string> CompareOps = ["==", "!=", "<", "<=", ">", ">="];

    /// <summary>An expression, or a bare tuple <c>a, b</c> (Jinja's parse_tuple).</summary>
    private Expr ParseTuple(bool withCondExpr, string? extraEnd = null)
    {
        var start = Cur;
        var first = withCondExpr ? ParseExpression() : ParseOr();
        if (!Cur.IsOp(",")) return first;
        var items = new List<Expr> { first };
        while (SkipOp(","))
        {
            if (Cur.Kind is TokenKind.BlockEnd or TokenKind.VariableEnd || Cur.IsOp(")") || (extraEnd is not null && Cur.IsName(extraEnd)) || Cur.IsName("if"))
                break;
            items.Add(withCondExpr ? ParseExpression() : ParseOr());
        }
        return new TupleExpr(items, start.Line, start.Column);
    }

    private Expr ParseExpression()
    {
        using var nesting = Nest();
        var start = Cur;
        var expr = ParseOr();
        while (SkipName("if"))
        {
            var test = ParseOr();
            Expr? otherwise = SkipName("else") ? ParseExpression() : null;
            expr = new CondExpr(test, expr, otherwise, start.Line, start.Column);
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        int links = 0;
        while (Cur.IsName("or"))
        {
            Link(ref links);
            var t = Next();
            left = new OrExpr(left, ParseAnd(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        int links = 0;
        while (Cur.IsName("and"))
        {
            Link(ref links);
            var t = Next();
            left = new AndExpr(left, ParseNot(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseNot()
    {
        using var nesting = Nest();
        if (Cur.IsName("not"))
        {
            var t = Next();
            return new NotExpr(ParseNot(), t.Line, t.Column);
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        var start = Cur;
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Cur.Kind == TokenKind.Operator && CompareOps.Contains(Cur.Value))
            {
                var op = Next().Value;
                rest.Add((op, ParseMath1()));
            }
            else if (SkipName("in")) rest.Add(("in", ParseMath1()));
            else if (Cur.IsName("not") && Peek().IsName("in"))
            {
                _i += 2;
                rest.Add(("notin", ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, start.Line, start.Column);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        int links = 0;
        while (Cur.IsOp("+") || Cur.IsOp("-"))
        {
            Link(ref links);
            var t = Next();
            left = new BinaryExpr(t.Value, left, ParseConcat(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        int links = 0;
        while (Cur.IsOp("~"))
        {
            Link(ref links);
            var t = Next();
            left = new BinaryExpr("~", left, ParseMath2(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        int links = 0;
        while (Cur.IsOp("*") || Cur.IsOp("/") || Cur.IsOp("//") || Cur.IsOp("%"))
        {
            Link(ref links);
            var t = Next();
            left = new BinaryExpr(t.Value, left, ParsePow(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary(true);
        int links = 0;
        while (Cur.IsOp("**"))
        {
            Link(ref links);
            var t = Next();
            left = new BinaryExpr("**", left, ParseUnary(true), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        using var nesting = Nest();
        var t = Cur;
        Expr node;
        if (t.IsOp("-") || t.IsOp("+"))
        {
            _i++;
            node = new NegExpr(ParseUnary(false), t.Value == "-", t.Line, t.Column);
        }
        else node = ParsePrimary();
        node = ParsePostfix(node);
        if (withFilter) node = ParseFilterExpr(node);
        return node;
    }

    private Expr ParsePrimary()
    {
        using var nesting = Nest();
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => new ConstExpr(true, t.Line, t.Column),
                    "false" or "False" => new ConstExpr(false, t.Line, t.Column),
                    "none" or "None" => new ConstExpr(null, t.Line, t.Column),
                    _ => new NameExpr(t.Value, t.Line, t.Column),
                };
            case TokenKind.String:
                {
                    var s = t.Value;
                    while (Cur.Kind == TokenKind.String) s += Next().Value; // adjacent literals concatenate
                    return new ConstExpr(s, t.Line, t.Column);
                }
            case TokenKind.Integer:
                {
                    if (long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var l)) return new ConstExpr(l, t.Line, t.Column);
                    // Python refuses to convert more than 4,300 digits; the cap also keeps BigInteger.Parse fast.
                    if (t.Value.Length > 4300) throw Error("integer literal too large", t);
                    return new ConstExpr(PyInt.Norm(BigInteger.Parse(t.Value, CultureInfo.InvariantCulture)), t.Line, t.Column);
                }
            case TokenKind.Float:
                return new ConstExpr(double.Parse(t.Value, CultureInfo.InvariantCulture), t.Line, t.Column);
            case TokenKind.Operator when t.Value == "(":
                {
                    if (SkipOp(")")) return new TupleExpr([], t.Line, t.Column);
                    var first = ParseExpression();
                    if (SkipOp(")")) return first;
                    var items = new List<Expr> { first };
                    while (SkipOp(","))
                    {
                        if (Cur.IsOp(")")) break;
                        items.Add(ParseExpression());
                    }
                    Expect(TokenKind.Operator, ")");
                    return new TupleExpr(items, t.Line, t.Column);
                }
            case TokenKind.Operator when t.Value == "[":
                {
                    var items = new List<Expr>();
                    while (!SkipOp("]"))
                    {
                        if (items.Count > 0) Expect(TokenKind.Operator, ",");
                        if (SkipOp("]")) break;
                        items.Add(ParseExpression());
                    }
                    return new ListExpr(items, t.Line, t.Column);
                }
            case TokenKind.Operator when t.Value == "{":
                {
                    var pairs = new List<(Expr, Expr)>();
                    while (!SkipOp("}"))
                    {
                        if (pairs.Count > 0) Expect(TokenKind.Operator, ",");
                        if (SkipOp("}")) break;
                        var k = ParseExpression();
                        Expect(TokenKind.Operator, ":");
                        pairs.Add((k, ParseExpression()));
                    }
                    return new DictExpr(pairs, t.Line, t.Column);
                }
            default:
                throw Error($"unexpected {t}", t);
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        int links = 0;
        while (true)
        {
            var t = Cur;
            if (t.IsOp(".") || t.IsOp("[") || t.IsOp("(")) Link(ref links);
            if (t.IsOp("."))
            {
                _i++;
                var n = Next();
                if (n.Kind == TokenKind.Name) node = new GetAttrExpr(node, n.Value, t.Line, t.Column);
                else if (n.Kind == TokenKind.Integer)
                {
                    object key = long.TryParse(n.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var k) ? k
                        : n.Value.Length <= 4300 ? PyInt.Norm(BigInteger.Parse(n.Value, CultureInfo.InvariantCulture)) : throw Error("integer literal too large", n);
                    node = new GetItemExpr(node, new ConstExpr(key, n.Line, n.Column), t.Line, t.Column);
                }
                else throw Error("expected name or number after '.'", n);
            }
            else if (t.IsOp("[")) { _i++; node = ParseSubscript(node, t); }
            else if (t.IsOp("(")) node = new CallExpr(node, ParseArgs(), t.Line, t.Column);
            else return node;
        }
    }

    private Expr ParseSubscript(Expr node, Token at)
    {
        Expr? a = null, b = null, c = null;
        bool slice = false;
        if (!Cur.IsOp(":")) a = ParseExpression();
        if (SkipOp(":"))
        {
            slice = true;
            if (!Cur.IsOp("]") && !Cur.IsOp(":")) b = ParseExpression();
            if (SkipOp(":") && !Cur.IsOp("]")) c = ParseExpression();
        }
        Expect(TokenKind.Operator, "]");
        return slice ? new SliceExpr(node, a, b, c, at.Line, at.Column) : new GetItemExpr(node, a!, at.Line, at.Column);
    }

    private Arguments ParseArgs()
    {
        Expect(TokenKind.Operator, "(");
        var pos = new List<Expr>();
        var kw = new List<(string, Expr)>();
        Expr? star = null, starStar = null;
        while (!SkipOp(")"))
        {
            if (pos.Count + kw.Count > 0 || star is not null || starStar is not null) Expect(TokenKind.Operator, ",");
            if (SkipOp(")")) break;
            if (SkipOp("*")) star = ParseExpression();
            else if (SkipOp("**")) starStar = ParseExpression();
            else if (Cur.Kind == TokenKind.Name && Peek().IsOp("="))
            {
                var n = Next().Value;
                _i++;
                kw.Add((n, ParseExpression()));
            }
            else
            {
                if (kw.Count > 0) throw Error("positional argument follows keyword argument");
                pos.Add(ParseExpression());
            }
        }
        return new Arguments(pos, kw, star, starStar);
    }

    private Expr ParseFilterExpr(Expr node)
    {
        int links = 0;
        while (true)
        {
            if (Cur.IsOp("|") || Cur.IsName("is") || Cur.IsOp("(")) Link(ref links);
            if (Cur.IsOp("|")) { _i++; node = ParseFilter(node); }
            else if (Cur.IsName("is")) node = ParseTest(node);
            else if (Cur.IsOp("(")) node = new CallExpr(node, ParseArgs(), Cur.Line, Cur.Column);
            else return node;
        }
    }

    private FilterExpr ParseFilter(Expr input)
    {
        var t = Expect(TokenKind.Name);
        var name = t.Value;
        while (SkipOp(".")) name += "." + Expect(TokenKind.Name).Value;
        var args = Cur.IsOp("(") ? ParseArgs() : Arguments.None;
        if (!Filters.Exists(name)) throw Error($"No filter named '{name}'.", t);
        return new FilterExpr(input, name, args, t.Line, t.Column);
    }

    private Expr ParseTest(Expr input)
    {
        var isTok = Next();
        bool negated = SkipName("not");
        var t = Expect(TokenKind.Name);
        var name = t.Value;
        Arguments args = Arguments.None;
        if (Cur.IsOp("(")) args = ParseArgs();
        else if ((Cur.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float || Cur.IsOp("[") || Cur.IsOp("{"))
                 && !(Cur.Kind == TokenKind.Name && Cur.Value is "else" or "or" or "and" or "if" or "in" or "not" or "is"))
        {
            args = new Arguments([ParsePostfix(ParsePrimary())], []);
        }
        if (!Tests.Exists(name)) throw Error($"No test named '{name}'.", t);
        Expr test = new TestExpr(input, name, args, isTok.Line, isTok.Column);
        return negated ? new NotExpr(test, isTok.Line, isTok.Column) : test;
    }
}
