namespace PagedAttention.Text.Templates;

/// <summary>Jinja's namespace(): the one mutable object a template may assign attributes to (set ns.x = ...).</summary>
internal sealed class PyNamespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}
