namespace PagedAttention.Text.Templates;

/// <summary>
/// Jinja2's default Undefined: falsy, prints as "", iterates as empty, has length 0; attribute access,
/// indexing, calling and arithmetic raise with <see cref="Hint"/> ("'x' is undefined").
/// </summary>
internal sealed class Undefined
{
    public static readonly Undefined Plain = new("value is undefined");

    public Undefined(string hint) => Hint = hint;

    public string Hint { get; }

    public static Undefined ForName(string name) => new($"'{name}' is undefined");

    public static Undefined NoAttribute(object? owner, string attr) => new($"{PyOps.TypeDescription(owner)} has no attribute '{attr}'");

    public static Undefined NoItem(object? owner, object? key) => new($"{PyOps.TypeDescription(owner)} has no element {PyFormat.Repr(key)}");

    public override string ToString() => "";
}
