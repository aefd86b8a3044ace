namespace PagedAttention.Text.Templates;

/// <summary>
/// One level of variables. Jinja scoping: a for-loop iteration, a macro call and a block set get their
/// own scope (their sets do not leak out); if/elif bodies share the enclosing one.
/// </summary>
internal sealed class Scope
{
    private Dictionary<string, object?>? _vars;

    public Scope(Scope? parent) => Parent = parent;

    public Scope(Scope? parent, Dictionary<string, object?> vars)
    {
        Parent = parent;
        _vars = vars;
    }

    public Scope? Parent { get; }

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s is not null; s = s.Parent)
        {
            if (s._vars is not null && s._vars.TryGetValue(name, out value)) return true;
        }
        value = null;
        return false;
    }

    public void Set(string name, object? value) => (_vars ??= new Dictionary<string, object?>(StringComparer.Ordinal))[name] = value;
}
