using System.Runtime.CompilerServices;
namespace PagedAttention.Text.Templates;

/// <summary>Recursive-descent parser for the Jinja statements chat templates use (Jinja2's grammar and precedence).</summary>
internal sealed partial class Parser
{
    private readonly List<Token> _t;
    private int _i;

    private Parser(List<Token> tokens) => _t = tokens;

    public static List<Stmt> Parse(string source)
    {
        var p = new Parser(Lexer.Tokenize(source));
        var body = p.ParseBody(out var end);
        if (end is not null) throw Error($"Encountered unknown tag '{end}'.", p.Cur);
        return body;
    }

    private Token Cur => _t[_i];

    private Token Peek(int k = 1) => _t[Math.Min(_i + k, _t.Count - 1)];

    private Token Next() => _t[_i++];

    private static TemplateException Error(string message, Token at) => new(message, at.Line, at.Column);

    private TemplateException Error(string message) => Error(message, Cur);

    private Token Expect(TokenKind kind, string? value = null)
    {
        var tok = Cur;
        if (tok.Kind != kind || (value is not null && tok.Value != value))
            throw Error($"expected {(value is not null ? $"'{value}'" : kind.ToString())}, got {tok}");
        _i++;
        return tok;
    }

    private bool SkipOp(string op)
    {
        if (!Cur.IsOp(op)) return false;
        _i++;
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Cur.IsName(name)) return false;
        _i++;
        return true;
    }

    // Python Jinja2 stops at its interpreter's recursion limit; this parser at a fixed nesting depth (far above any
    // real template's), with the thread's remaining stack checked too, so a hostile template cannot overflow it.
    private const int MaxNesting = 1000;
    private int _nesting;

    private NestingScope Nest()
    {
        if (++_nesting > MaxNesting)
        {
            _nesting--;
            throw new TemplateException($"recursion limit: expressions and blocks nest deeper than {MaxNesting} levels", Cur.Line, Cur.Column);
        }
        RuntimeHelpers.EnsureSufficientExecutionStack();
        return new NestingScope(this);
    }

    // A chain such as 1 + 1 + ... or x.a.b... builds a left-deep tree that evaluation walks recursively: each link
    // counts as one more level, so 100,000 chained additions fail at parse time, deterministically, like 100,000 nots.
    private void Link(ref int links)
    {
        if (++links + _nesting > MaxNesting)
            throw new TemplateException($"recursion limit: expressions and blocks nest deeper than {MaxNesting} levels", Cur.Line, Cur.Column);
    }

    // Inside a for body (not its else, not a macro or call block body, which Jinja compiles as functions).
    private int _loopDepth;

    private readonly ref struct NestingScope(Parser parser)
    {
        public void Dispose() => parser._nesting--;
    }

    /// <summary>Parses statements until EOF or a block tag this level does not own; returns that tag's name in <paramref name="endTag"/>.</summary>
    private List<Stmt> ParseBody(out string? endTag, params string[] ends)
    {
        using var nesting = Nest();
        var body = new List<Stmt>();
        while (true)
        {
            var tok = Cur;
            switch (tok.Kind)
            {
                case TokenKind.Eof:
                    if (ends.Length > 0) throw Error($"Unexpected end of template. Jinja was looking for the following tags: {string.Join(" or ", ends.Select(e => $"'{e}'"))}.", tok);
                    endTag = null;
                    return body;
                case TokenKind.Data:
                    _i++;
                    body.Add(new TextStmt(tok.Value));
                    break;
                case TokenKind.VariableBegin:
                    _i++;
                    var expr = ParseTuple(withCondExpr: true);
                    Expect(TokenKind.VariableEnd);
                    body.Add(new OutputStmt(expr));
                    break;
                case TokenKind.BlockBegin:
                    var name = Peek();
                    if (name.Kind != TokenKind.Name) throw Error("tag name expected", name);
                    if (ends.Contains(name.Value))
                    {
                        _i += 2; // leave the end tag's arguments and '%}' to the owner
                        endTag = name.Value;
                        return body;
                    }
                    _i += 2;
                    body.Add(ParseStatement(name));
                    break;
                default:
                    throw Error($"unexpected {tok}", tok);
            }
        }
    }

    private Stmt ParseStatement(Token tag)
    {
        switch (tag.Value)
        {
            case "if": return ParseIf();
            case "for": return ParseFor();
            case "set": return ParseSet();
            case "macro": return ParseMacro();
            case "call": return ParseCallBlock();
            case "filter":
                {
                    var filters = ParseFilterChain();
                    Expect(TokenKind.BlockEnd);
                    var body = ParseBody(out _, "endfilter");
                    Expect(TokenKind.BlockEnd);
                    return new FilterBlockStmt(filters, body);
                }
            case "break":
            case "continue":
                // Jinja2 leaves this to Python's compiler, which raises SyntaxError "'break' outside loop".
                if (_loopDepth == 0) throw Error($"'{tag.Value}' outside loop", tag);
                Expect(TokenKind.BlockEnd);
                return new LoopControlStmt(tag.Value == "break" ? Flow.Break : Flow.Continue);
            case "generation":
                {
                    Expect(TokenKind.BlockEnd);
                    var body = ParseBody(out _, "endgeneration");
                    Expect(TokenKind.BlockEnd);
                    return new GenerationStmt(body);
                }
            case "with":
                {
                    var assigns = new List<(string, Expr)>();
                    while (Cur.Kind != TokenKind.BlockEnd)
                    {
                        if (assigns.Count > 0) Expect(TokenKind.Operator, ",");
                        var n = Expect(TokenKind.Name).Value;
                        Expect(TokenKind.Operator, "=");
                        assigns.Add((n, ParseExpression()));
                    }
                    Expect(TokenKind.BlockEnd);
                    var body = ParseBody(out _, "endwith");
                    Expect(TokenKind.BlockEnd);
                    return new WithStmt(assigns, body);
                }
            default:
                throw Error($"Encountered unknown tag '{tag.Value}'.", tag);
        }
    }

    private Stmt ParseIf()
    {
        var branches = new List<(Expr, List<Stmt>)>();
        List<Stmt>? otherwise = null;
        var test = ParseTuple(withCondExpr: false);
        while (true)
        {
            Expect(TokenKind.BlockEnd);
            var body = ParseBody(out var end, "elif", "else", "endif");
            branches.Add((test, body));
            if (end == "elif")
            {
                test = ParseTuple(withCondExpr: false);
                continue;
            }
            if (end == "else")
            {
                Expect(TokenKind.BlockEnd);
                otherwise = ParseBody(out _, "endif");
            }
            Expect(TokenKind.BlockEnd);
            return new IfStmt(branches, otherwise);
        }
    }

    private Stmt ParseFor()
    {
        var targets = new List<string> { Expect(TokenKind.Name).Value };
        while (SkipOp(",")) targets.Add(Expect(TokenKind.Name).Value);
        if (!SkipName("in")) throw Error("expected 'in'");
        var iter = ParseTuple(withCondExpr: false, extraEnd: "recursive");
        Expr? filter = null;
        if (SkipName("if")) filter = ParseTuple(withCondExpr: true);
        if (Cur.IsName("recursive")) throw Error("recursive loops are not supported");
        Expect(TokenKind.BlockEnd);
        _loopDepth++;
        List<Stmt> body;
        string? end;
        try { body = ParseBody(out end, "else", "endfor"); }
        finally { _loopDepth--; }
        List<Stmt>? otherwise = null;
        if (end == "else")
        {
            Expect(TokenKind.BlockEnd);
            otherwise = ParseBody(out _, "endfor");
        }
        Expect(TokenKind.BlockEnd);
        return new ForStmt(targets, iter, filter, body, otherwise);
    }

    private Stmt ParseSet()
    {
        var first = Expect(TokenKind.Name);
        if (Cur.IsOp("."))
        {
            _i++;
            var attr = Expect(TokenKind.Name).Value;
            Expect(TokenKind.Operator, "=");
            var v = ParseTuple(withCondExpr: true);
            Expect(TokenKind.BlockEnd);
            return new SetStmt([], new NameExpr(first.Value, first.Line, first.Column), attr, v);
        }
        var names = new List<string> { first.Value };
        while (SkipOp(",")) names.Add(Expect(TokenKind.Name).Value);
        if (SkipOp("="))
        {
            var v = ParseTuple(withCondExpr: true);
            Expect(TokenKind.BlockEnd);
            return new SetStmt(names, null, null, v);
        }
        // Block set: {% set x %}...{% endset %}, optionally {% set x | filter %}.
        var filters = Cur.IsOp("|") ? ParseFilterChain() : new List<FilterExpr>();
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(out _, "endset");
        Expect(TokenKind.BlockEnd);
        return new BlockSetStmt(names[0], body, filters);
    }

    private List<MacroParam> ParseParams()
    {
        var ps = new List<MacroParam>();
        Expect(TokenKind.Operator, "(");
        while (!SkipOp(")"))
        {
            if (ps.Count > 0) Expect(TokenKind.Operator, ",");
            if (SkipOp(")")) break;
            var n = Expect(TokenKind.Name).Value;
            ps.Add(new MacroParam(n, SkipOp("=") ? ParseExpression() : null));
        }
        return ps;
    }

    private Stmt ParseMacro()
    {
        var name = Expect(TokenKind.Name).Value;
        var ps = ParseParams();
        Expect(TokenKind.BlockEnd);
        var body = ParseFunctionBody("endmacro");
        Expect(TokenKind.BlockEnd);
        return new MacroStmt(name, ps, body);
    }

    private Stmt ParseCallBlock()
    {
        var callerParams = Cur.IsOp("(") ? ParseParams() : new List<MacroParam>();
        var at = Cur;
        var expr = ParseExpression();
        if (expr is not CallExpr call) throw Error("expected call", at);
        Expect(TokenKind.BlockEnd);
        var body = ParseFunctionBody("endcall");
        Expect(TokenKind.BlockEnd);
        return new CallBlockStmt(call, callerParams, body);
    }

    // A macro or call-block body is a function in Jinja's compiled code: a loop around it does not enclose it.
    private List<Stmt> ParseFunctionBody(string end)
    {
        int outer = _loopDepth;
        _loopDepth = 0;
        try { return ParseBody(out _, end); }
        finally { _loopDepth = outer; }
    }

    /// <summary>The filters of {% filter a|b(x) %} or a block set; each reads the block output from a hidden variable.</summary>
    private List<FilterExpr> ParseFilterChain()
    {
        var list = new List<FilterExpr>();
        SkipOp("|");
        do
        {
            var f = ParseFilter(new NameExpr("\0input", Cur.Line, Cur.Column));
            list.Add(f);
        }
        while (SkipOp("|"));
        return list;
    }
}
