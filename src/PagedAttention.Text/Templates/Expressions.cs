using System.Runtime.CompilerServices;
namespace PagedAttention.Text.Templates;

/// <summary>An expression node; evaluation is a virtual call (a tree-walking interpreter, no reflection).</summary>
internal abstract class Expr
{
    protected Expr(int line, int column)
    {
        Line = line;
        Column = column;
    }

    public int Line { get; }

    public int Column { get; }

    public abstract object? Eval(Scope scope, RenderState state);
}

internal sealed class ConstExpr(object? value, int line, int col) : Expr(line, col)
{
    public object? Value { get; } = value;

    public override object? Eval(Scope scope, RenderState state) => Value;
}

internal sealed class NameExpr(string name, int line, int col) : Expr(line, col)
{
    public string Name { get; } = name;

    public override object? Eval(Scope scope, RenderState state) =>
        scope.TryGet(Name, out var v) ? v : Undefined.ForName(Name);
}

internal sealed class ListExpr(List<Expr> items, int line, int col) : Expr(line, col)
{
    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        var list = new List<object?>(items.Count);
        foreach (var e in items) list.Add(e.Eval(scope, state));
        return list;
    }
}

internal sealed class TupleExpr(List<Expr> items, int line, int col) : Expr(line, col)
{
    public List<Expr> Items { get; } = items;

    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        var t = new object?[Items.Count];
        for (int i = 0; i < t.Length; i++) t[i] = Items[i].Eval(scope, state);
        return t;
    }
}

internal sealed class DictExpr(List<(Expr Key, Expr Value)> pairs, int line, int col) : Expr(line, col)
{
    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        var d = new PyDict(pairs.Count);
        foreach (var (k, v) in pairs)
        {
            var key = k.Eval(scope, state) ?? throw PyOps.Fail("None is not supported as a dict key here");
            d.Set(key, v.Eval(scope, state));
        }
        return d;
    }
}

internal sealed class GetAttrExpr(Expr target, string name, int line, int col) : Expr(line, col)
{
    public Expr Target { get; } = target;

    public string Name { get; } = name;

    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        return PyOps.GetAttr(Target.Eval(scope, state), Name);
    }
}

internal sealed class GetItemExpr(Expr target, Expr key, int line, int col) : Expr(line, col)
{
    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        return PyOps.GetItem(target.Eval(scope, state), key.Eval(scope, state));
    }
}

internal sealed class SliceExpr(Expr target, Expr? start, Expr? stop, Expr? step, int line, int col) : Expr(line, col)
{
    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        return PyOps.Slice(target.Eval(scope, state), start?.Eval(scope, state), stop?.Eval(scope, state), step?.Eval(scope, state));
    }
}

/// <summary>Positional and keyword arguments of a call, filter or test.</summary>
internal sealed class Arguments(List<Expr> positional, List<(string Name, Expr Value)> keywords, Expr? starArgs = null, Expr? starKwargs = null)
{
    public static readonly Arguments None = new([], []);

    public List<Expr> Positional { get; } = positional;

    public List<(string Name, Expr Value)> Keywords { get; } = keywords;

    public List<object?> EvalPositional(Scope scope, RenderState state, object? first = null, bool hasFirst = false)
    {
        var list = new List<object?>(Positional.Count + 1);
        if (hasFirst) list.Add(first);
        foreach (var e in Positional) list.Add(e.Eval(scope, state));
        if (starArgs is not null) list.AddRange(PyOps.Iterate(starArgs.Eval(scope, state)));
        return list;
    }

    public List<KeyValuePair<string, object?>>? EvalKeywords(Scope scope, RenderState state)
    {
        if (Keywords.Count == 0 && starKwargs is null) return null;
        var list = new List<KeyValuePair<string, object?>>(Keywords.Count);
        foreach (var (n, e) in Keywords) list.Add(new(n, e.Eval(scope, state)));
        if (starKwargs is not null)
        {
            if (starKwargs.Eval(scope, state) is not PyDict d) throw PyOps.Fail("argument after ** must be a mapping");
            foreach (var kv in d.Items) list.Add(new(PyFormat.Str(kv.Key), kv.Value));
        }
        return list;
    }
}

internal sealed class CallExpr(Expr callee, Arguments args, int line, int col) : Expr(line, col)
{
    public Expr Callee { get; } = callee;

    public Arguments Args { get; } = args;

    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        // Method calls (s.strip('x'), d.items()) dispatch directly instead of allocating a bound method.
        if (Callee is GetAttrExpr ga)
        {
            var target = ga.Target.Eval(scope, state);
            if (target is not null and not Undefined and not PyDict && Methods.IsMethod(target, ga.Name))
                return Methods.Call(target, ga.Name, Args.EvalPositional(scope, state), Args.EvalKeywords(scope, state));
            return Invoke(PyOps.GetAttr(target, ga.Name), scope, state);
        }
        return Invoke(Callee.Eval(scope, state), scope, state);
    }

    private object? Invoke(object? fn, Scope scope, RenderState state)
    {
        if (fn is PyCallable c)
        {
            try
            {
                return c.Call(state, Args.EvalPositional(scope, state), Args.EvalKeywords(scope, state));
            }
            catch (TemplateRaisedException e) when (e.RaisedAtLine == 0)
            {
                throw new TemplateRaisedException(e.Message, Line, Column);
            }
        }
        if (fn is Undefined u) throw PyOps.UndefinedFail(u);
        throw PyOps.Fail($"'{PyOps.TypeName(fn)}' object is not callable");
    }
}

internal sealed class FilterExpr(Expr? input, string name, Arguments args, int line, int col) : Expr(line, col)
{
    public Expr? Input { get; set; } = input;

    public string Name { get; } = name;

    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        return Filters.Apply(Name, Input!.Eval(scope, state), args.EvalPositional(scope, state), args.EvalKeywords(scope, state), state);
    }
}

internal sealed class TestExpr(Expr input, string name, Arguments args, int line, int col) : Expr(line, col)
{
    public override object? Eval(Scope scope, RenderState state)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        return Tests.Apply(Name, input.Eval(scope, state), args.EvalPositional(scope, state));
    }

    private string Name { get; } = name;
}
