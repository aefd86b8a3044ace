namespace PagedAttention.Text.Templates;

/// <summary>The <c>loop</c> variable inside a for loop.</summary>
internal sealed class LoopInfo
{
    private readonly IReadOnlyList<object?> _items;

    public LoopInfo(IReadOnlyList<object?> items, int depth0)
    {
        _items = items;
        Depth0 = depth0;
    }

    public int Index0 { get; set; }

    public int Depth0 { get; }

    public int Length => _items.Count;

    public object? Attribute(string name) => name switch
    {
        "index0" => (long)Index0,
        "index" => (long)(Index0 + 1),
        "revindex" => (long)(Length - Index0),
        "revindex0" => (long)(Length - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Length - 1,
        "length" => (long)Length,
        "depth" => (long)(Depth0 + 1),
        "depth0" => (long)Depth0,
        "previtem" => Index0 > 0 ? _items[Index0 - 1] : Undefined.ForName("previtem"),
        "nextitem" => Index0 + 1 < Length ? _items[Index0 + 1] : Undefined.ForName("nextitem"),
        "cycle" => new BuiltinFunction("cycle", (args, _) => args.Count == 0 ? throw PyOps.Fail("no items for cycling given") : args[Index0 % args.Count]),
        _ => Undefined.NoAttribute(this, name),
    };
}
