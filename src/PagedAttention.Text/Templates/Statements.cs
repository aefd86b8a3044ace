using System.Runtime.CompilerServices;
using System.Text;

namespace PagedAttention.Text.Templates;

internal enum Flow { Normal, Break, Continue }

/// <summary>A statement node; <see cref="Exec"/> appends output and reports break/continue.</summary>
internal abstract class Stmt
{
    public abstract Flow Exec(Scope scope, RenderState state, StringBuilder sb);

    /// <summary>Evaluates an expression, attaching the expression's position to errors raised without one.</summary>
    protected static object? Eval(Expr e, Scope scope, RenderState state)
    {
        try
        {
            return e.Eval(scope, state);
        }
        catch (TemplateException ex) when (ex.Line == 0 && ex is not TemplateRaisedException)
        {
            throw new TemplateException(ex.Detail, e.Line, e.Column, ex);
        }
    }

    public static Flow ExecAll(List<Stmt> body, Scope scope, RenderState state, StringBuilder sb)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack(); // macro recursion, nested blocks
        foreach (var s in body)
        {
            var f = s.Exec(scope, state, sb);
            if (f != Flow.Normal) return f;
        }
        return Flow.Normal;
    }
}

internal sealed class TextStmt(string text) : Stmt
{
    public override Flow Exec(Scope scope, RenderState state, StringBuilder sb)
    {
        state.Append(sb, text);
        return Flow.Normal;
    }
}

internal sealed class OutputStmt(Expr expr) : Stmt
{
    public override Flow Exec(Scope scope, RenderState state, StringBuilder sb)
    {
        var v = Eval(expr, scope, state);
        if (v is string s) state.Append(sb, s);
        else if (v is not Undefined) state.Append(sb, PyFormat.Str(v));
        return Flow.Normal;
    }
}

internal sealed class IfStmt(List<(Expr Test, List<Stmt> Body)> branches, List<Stmt>? otherwise) : Stmt
{
    public override Flow Exec(Scope scope, RenderState state, StringBuilder sb)
    {
        foreach (var (test, body) in branches)
        {
            if (PyOps.Truthy(Eval(test, scope, state))) return ExecAll(body, scope, state, sb);
        }
        return otherwise is null ? Flow.Normal : ExecAll(otherwise, scope, state, sb);
    }
}

internal sealed class ForStmt(List<string> targets, Expr iterable, Expr? filter, List<Stmt> body, List<Stmt>? otherwise) : Stmt
{
    public override Flow Exec(Scope scope, RenderState state, StringBuilder sb)
    {
        var source = PyOps.Iterate(Eval(iterable, scope, state));
        IReadOnlyList<object?> items = source;
        if (filter is not null)
        {
            // The loop filter runs before loop.* is computed, so loop.length counts only kept items.
            var kept = new List<object?>();
            foreach (var item in source)
            {
                state.Tick();
                var fs = new Scope(scope);
                Bind(fs, item);
                if (PyOps.Truthy(Eval(filter, fs, state))) kept.Add(item);
            }
            items = kept;
        }
        if (items.Count == 0)
            return otherwise is null ? Flow.Normal : ExecAll(otherwise, scope, state, sb);
        var loop = new LoopInfo(items, state.LoopDepth);
        state.LoopDepth++;
        try
        {
            for (int i = 0; i < items.Count; i++)
            {
                state.Tick();
                loop.Index0 = i;
                // Each iteration gets a fresh scope: a set inside the body is invisible to the next iteration and after the loop.
                var inner = new Scope(scope);
                inner.Set("loop", loop);
                Bind(inner, items[i]);
                if (ExecAll(body, inner, state, sb) == Flow.Break) break;
            }
        }
        finally
        {
            state.LoopDepth--;
        }
        return Flow.Normal;
    }

    private void Bind(Scope s, object? item)
    {
        if (targets.Count == 1)
        {
            s.Set(targets[0], item);
            return;
        }
        var parts = item switch
        {
            object?[] or List<object?> or string => PyOps.AsList(item),
            _ => throw PyOps.Fail($"cannot unpack non-iterable {PyOps.TypeName(item)} object"),
        };
        if (parts.Count != targets.Count)
            throw PyOps.Fail(parts.Count > targets.Count ? $"too many values to unpack (expected {targets.Count})" : $"not enough values to unpack (expected {targets.Count}, got {parts.Count})");
        for (int i = 0; i < targets.Count; i++) s.Set(targets[i], parts[i]);
    }
}

internal sealed class SetStmt(List<string> names, Expr? namespaceTarget, string? attribute, Expr value) : Stmt
{
    public override Flow Exec(Scope scope, RenderState state, StringBuilder sb)
    {
        var v = Eval(value, scope, state);
        if (namespaceTarget is not null)
        {
            if (Eval(namespaceTarget, scope, state) is not PyNamespace ns)
                throw new TemplateException("cannot assign attribute on non-namespace object", namespaceTarget.Line, namespaceTarget.Column);
            ns.Attributes[attribute!] = v;
        }
        else if (names.Count == 1) scope.Set(names[0], v);
        else
        {
            var parts = PyOps.AsList(v);
            if (parts.Count != names.Count) throw PyOps.Fail($"cannot unpack {parts.Count} values into {names.Count} names");
            for (int i = 0; i < names.Count; i++) scope.Set(names[i], parts[i]);
        }
        return Flow.Normal;
    }
}

internal sealed class BlockSetStmt(string name, List<Stmt> body, List<FilterExpr> filters) : Stmt
{
    public override Flow Exec(Scope scope, RenderState state, StringBuilder sb)
    {
        var inner = new StringBuilder();
        ExecAll(body, new Scope(scope), state, inner);
        scope.Set(name, FilterBlockStmt.ApplyChain(filters, inner.ToString(), scope, state));
        return Flow.Normal;
    }
}

internal sealed class FilterBlockStmt(List<FilterExpr> filters, List<Stmt> body) : Stmt
{
    public override Flow Exec(Scope scope, RenderState state, StringBuilder sb)
    {
        var inner = new StringBuilder();
        ExecAll(body, new Scope(scope), state, inner);
        state.Append(sb, PyFormat.Str(ApplyChain(filters, inner.ToString(), scope, state)));
        return Flow.Normal;
    }

    public static object? ApplyChain(List<FilterExpr> filters, object? value, Scope scope, RenderState state)
    {
        foreach (var f in filters)
        {
            var s = new Scope(scope);
            s.Set("\0input", value);
            value = f.Eval(s, state);
        }
        return value;
    }
}

internal sealed class LoopControlStmt(Flow flow) : Stmt
{
    public override Flow Exec(Scope scope, RenderState state, StringBuilder sb) => flow;
}

/// <summary>transformers' {% generation %} marks assistant text for masks; rendering only emits the body.</summary>
internal sealed class GenerationStmt(List<Stmt> body) : Stmt
{
    public override Flow Exec(Scope scope, RenderState state, StringBuilder sb) => ExecAll(body, scope, state, sb);
}

internal sealed class WithStmt(List<(string Name, Expr Value)> assignments, List<Stmt> body) : Stmt
{
    public override Flow Exec(Scope scope, RenderState state, StringBuilder sb)
    {
        var inner = new Scope(scope);
        foreach (var (n, e) in assignments) inner.Set(n, Eval(e, scope, state));
        return ExecAll(body, inner, state, sb);
    }
}
