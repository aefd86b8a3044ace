namespace PagedAttention.Text.Templates;

/// <summary>Something a template can call: a global function, a bound method or a macro.</summary>
internal abstract class PyCallable
{
    public abstract string Name { get; }

    public abstract object? Call(RenderState state, List<object?> args, List<KeyValuePair<string, object?>>? kwargs);
}

/// <summary>A built-in function such as range, namespace or raise_exception.</summary>
internal sealed class BuiltinFunction : PyCallable
{
    private readonly Func<List<object?>, List<KeyValuePair<string, object?>>?, object?> _body;

    public BuiltinFunction(string name, Func<List<object?>, List<KeyValuePair<string, object?>>?, object?> body)
    {
        Name = name;
        _body = body;
    }

    public override string Name { get; }

    public override object? Call(RenderState state, List<object?> args, List<KeyValuePair<string, object?>>? kwargs) => _body(args, kwargs);
}

/// <summary>A method looked up as a value (<c>d.items</c>) and called later.</summary>
internal sealed class BoundMethod : PyCallable
{
    public BoundMethod(object target, string name)
    {
        Target = target;
        Name = name;
    }

    public object Target { get; }

    public override string Name { get; }

    public override object? Call(RenderState state, List<object?> args, List<KeyValuePair<string, object?>>? kwargs)
        => Methods.Call(Target, Name, args, kwargs);
}
