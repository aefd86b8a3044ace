using System.Text;

namespace PagedAttention.Text.Templates;

/// <summary>A macro parameter; the default is evaluated at call time, as in Jinja.</summary>
internal sealed record MacroParam(string Name, Expr? Default);

/// <summary>A macro value (also the <c>caller</c> of a call block): renders its body to a string when called.</summary>
internal sealed class Macro(string name, List<MacroParam> parameters, List<Stmt> body, Scope closure) : PyCallable
{
    public override string Name { get; } = name;

    public override object? Call(RenderState state, List<object?> args, List<KeyValuePair<string, object?>>? kwargs)
    {
        state.Tick(); // a macro that calls itself twice runs 2^n calls without any loop
        var scope = new Scope(closure);
        var bound = new bool[parameters.Count];
        for (int i = 0; i < args.Count && i < parameters.Count; i++)
        {
            scope.Set(parameters[i].Name, args[i]);
            bound[i] = true;
        }
        var varargs = new List<object?>();
        for (int i = parameters.Count; i < args.Count; i++) varargs.Add(args[i]);
        var extra = new PyDict();
        if (kwargs is not null)
        {
            foreach (var kv in kwargs)
            {
                int idx = parameters.FindIndex(p => p.Name == kv.Key);
                if (idx >= 0) { scope.Set(kv.Key, kv.Value); bound[idx] = true; }
                else if (kv.Key == "caller") scope.Set("caller", kv.Value);
                else extra.Set(kv.Key, kv.Value);
            }
        }
        for (int i = 0; i < parameters.Count; i++)
        {
            if (bound[i]) continue;
            var p = parameters[i];
            scope.Set(p.Name, p.Default is null ? Undefined.ForName(p.Name) : p.Default.Eval(scope, state));
        }
        scope.Set("varargs", varargs.ToArray());
        scope.Set("kwargs", extra);
        var sb = new StringBuilder();
        Stmt.ExecAll(body, scope, state, sb);
        return sb.ToString();
    }
}

internal sealed class MacroStmt(string name, List<MacroParam> parameters, List<Stmt> body) : Stmt
{
    public override Flow Exec(Scope scope, RenderState state, StringBuilder sb)
    {
        scope.Set(name, new Macro(name, parameters, body, scope));
        return Flow.Normal;
    }
}

/// <summary>{% call m(args) %}body{% endcall %}: calls m with <c>caller</c> bound to a macro rendering body.</summary>
internal sealed class CallBlockStmt(CallExpr call, List<MacroParam> callerParams, List<Stmt> body) : Stmt
{
    public override Flow Exec(Scope scope, RenderState state, StringBuilder sb)
    {
        var caller = new Macro("caller", callerParams, body, scope);
        var fn = Eval(call.Callee, scope, state);
        if (fn is not PyCallable c) throw new TemplateException($"'{PyOps.TypeName(fn)}' object is not callable", call.Line, call.Column);
        var kwargs = call.Args.EvalKeywords(scope, state) ?? new List<KeyValuePair<string, object?>>();
        kwargs.Add(new("caller", caller));
        state.Append(sb, PyFormat.Str(c.Call(state, call.Args.EvalPositional(scope, state), kwargs)));
        return Flow.Normal;
    }
}
