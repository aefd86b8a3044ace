using System.Runtime.CompilerServices;
namespace PagedAttention.Text.Templates;

internal sealed class BinaryExpr(string op, Expr left, Expr right, int line, int col) : Expr(line, col)
{
    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        var a = left.Eval(scope, state);
        var b = right.Eval(scope, state);
        return op switch
        {
            "+" => PyOps.Add(a, b),
            "~" => PyOps.Concat(a, b),
            _ => PyOps.Arith(op, a, b),
        };
    }
}

/// <summary>A comparison chain such as <c>a &lt; b &lt;= c</c>, or a single ==, in, not in.</summary>
internal sealed class CompareExpr(Expr first, List<(string Op, Expr Operand)> rest, int line, int col) : Expr(line, col)
{
    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        var left = first.Eval(scope, state);
        foreach (var (op, operand) in rest)
        {
            var right = operand.Eval(scope, state);
            bool ok = op switch
            {
                "==" => PyOps.Eq(left, right),
                "!=" => !PyOps.Eq(left, right),
                "<" => PyOps.Compare(left, right) < 0,
                "<=" => PyOps.Compare(left, right) <= 0,
                ">" => PyOps.Compare(left, right) > 0,
                ">=" => PyOps.Compare(left, right) >= 0,
                "in" => PyOps.Contains(right, left),
                "notin" => !PyOps.Contains(right, left),
                _ => throw PyOps.Fail($"unknown comparison {op}"),
            };
            if (!ok) return false;
            left = right;
        }
        return true;
    }
}

internal sealed class AndExpr(Expr left, Expr right, int line, int col) : Expr(line, col)
{
    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        var a = left.Eval(scope, state);
        return PyOps.Truthy(a) ? right.Eval(scope, state) : a;
    }
}

internal sealed class OrExpr(Expr left, Expr right, int line, int col) : Expr(line, col)
{
    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        var a = left.Eval(scope, state);
        return PyOps.Truthy(a) ? a : right.Eval(scope, state);
    }
}

internal sealed class NotExpr(Expr operand, int line, int col) : Expr(line, col)
{
    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        return !PyOps.Truthy(operand.Eval(scope, state));
    }
}

internal sealed class NegExpr(Expr operand, bool negate, int line, int col) : Expr(line, col)
{
    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        var v = operand.Eval(scope, state);
        if (negate) return PyOps.Negate(v);
        return v is Undefined u ? throw PyOps.UndefinedFail(u) : v;
    }
}

internal sealed class CondExpr(Expr test, Expr then, Expr? otherwise, int line, int col) : Expr(line, col)
{
    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        return PyOps.Truthy(test.Eval(scope, state)) ? then.Eval(scope, state)
            : otherwise is null ? Undefined.Plain : otherwise.Eval(scope, state);
    }
}
