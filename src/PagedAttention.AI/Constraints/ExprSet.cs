namespace PagedAttention.AI.Constraints;

/// <summary>
/// Hash-consed byte-level regular expressions with Brzozowski derivatives: the lexer's regex AST. Every node is an
/// int id; structurally equal nodes share one id, because the smart constructors normalise (right-nested, sorted,
/// deduplicated alternations; Nothing and Empty folded away), which keeps the set of derivatives finite and makes a
/// lexer DFA state a plain id comparison. Invariant kept by the constructors: every node other than
/// <see cref="Nothing"/> matches at least one string, and every node whose language is {ε} is <see cref="Empty"/> —
/// so "dead" and "complete" are id tests, never searches.
/// Not thread-safe: the owning <see cref="LexerDfa"/> serialises access.
/// </summary>
internal sealed class ExprSet
{
    public const int Nothing = 0;
    public const int Empty = 1;
    public const int Infinite = -1;

    private enum Kind : byte { Nothing, Empty, Bytes, Concat, Or, Repeat }

    private readonly record struct Node(Kind Kind, int A, int B, int Min, int Max);

    private readonly List<Node> _nodes = [];
    private readonly List<bool> _nullable = [];
    private readonly Dictionary<Node, int> _ids = new();
    private readonly List<ByteSet> _byteSets = [];
    private readonly Dictionary<ByteSet, int> _byteSetIds = new();
    private readonly Dictionary<(int Expr, int Byte), int> _derivatives = new();

    public ExprSet()
    {
        Intern(new Node(Kind.Nothing, 0, 0, 0, 0), false);
        Intern(new Node(Kind.Empty, 0, 0, 0, 0), true);
    }

    public int Count => _nodes.Count;

    public bool IsNullable(int e) => _nullable[e];

    /// <summary>Every byte set used by a Bytes node (for the byte-class partition).</summary>
    public IReadOnlyList<ByteSet> ByteSets => _byteSets;

    private int Intern(Node n, bool nullable)
    {
        if (_ids.TryGetValue(n, out int id)) return id;
        id = _nodes.Count;
        _nodes.Add(n);
        _nullable.Add(nullable);
        _ids.Add(n, id);
        return id;
    }

    public int Bytes(ByteSet s)
    {
        if (s.IsEmpty) return Nothing;
        if (!_byteSetIds.TryGetValue(s, out int sid))
        {
            sid = _byteSets.Count;
            _byteSets.Add(s);
            _byteSetIds.Add(s, sid);
        }
        return Intern(new Node(Kind.Bytes, sid, 0, 0, 0), false);
    }

    public int Byte(byte b) => Bytes(ByteSet.Of(b));

    public int Literal(ReadOnlySpan<byte> bytes)
    {
        int e = Empty;
        for (int i = bytes.Length - 1; i >= 0; i--) e = Concat(Byte(bytes[i]), e);
        return e;
    }

    public int Literal(string s) => Literal(System.Text.Encoding.UTF8.GetBytes(s));

    public int Concat(int a, int b)
    {
        if (a == Nothing || b == Nothing) return Nothing;
        if (a == Empty) return b;
        if (b == Empty) return a;
        var na = _nodes[a];
        if (na.Kind == Kind.Concat) return Concat(na.A, Concat(na.B, b)); // right-nest
        return Intern(new Node(Kind.Concat, a, b, 0, 0), _nullable[a] && _nullable[b]);
    }

    public int Concat(params ReadOnlySpan<int> parts)
    {
        int e = Empty;
        for (int i = parts.Length - 1; i >= 0; i--) e = Concat(parts[i], e);
        return e;
    }

    public int Or(int a, int b)
    {
        if (a == b) return a;
        if (a == Nothing) return b;
        if (b == Nothing) return a;
        var leaves = new List<int>();
        CollectOr(a, leaves);
        CollectOr(b, leaves);
        return BuildOr(leaves);
    }

    public int Or(IEnumerable<int> parts)
    {
        var leaves = new List<int>();
        foreach (int p in parts) CollectOr(p, leaves);
        return BuildOr(leaves);
    }

    private void CollectOr(int e, List<int> leaves)
    {
        while (true)
        {
            if (e == Nothing) return;
            var n = _nodes[e];
            if (n.Kind != Kind.Or) { leaves.Add(e); return; }
            leaves.Add(n.A);
            e = n.B;
        }
    }

    private int BuildOr(List<int> leaves)
    {
        // Byte-set leaves merge into one; the rest are sorted and deduplicated so equal sets get one id.
        ByteSet bytes = default;
        var rest = new List<int>(leaves.Count);
        foreach (int l in leaves)
        {
            var n = _nodes[l];
            if (n.Kind == Kind.Bytes) bytes = bytes.Union(_byteSets[n.A]);
            else rest.Add(l);
        }
        if (!bytes.IsEmpty) rest.Add(Bytes(bytes));
        rest.Sort();
        int w = 0;
        for (int i = 0; i < rest.Count; i++) if (w == 0 || rest[w - 1] != rest[i]) rest[w++] = rest[i];
        if (w == 0) return Nothing;
        int e = rest[w - 1];
        for (int i = w - 2; i >= 0; i--) e = Intern(new Node(Kind.Or, rest[i], e, 0, 0), _nullable[rest[i]] || _nullable[e]);
        return e;
    }

    /// <summary>a{min,max}; max = <see cref="Infinite"/> for no upper bound.</summary>
    public int Repeat(int a, int min, int max)
    {
        if (max != Infinite && max < min) return Nothing;
        if (max == 0) return Empty;
        if (a == Nothing) return min == 0 ? Empty : Nothing;
        if (a == Empty) return Empty;
        if (min == 1 && max == 1) return a;
        return Intern(new Node(Kind.Repeat, a, 0, min, max), min == 0 || _nullable[a]);
    }

    public int Optional(int a) => Or(a, Empty);

    /// <summary>The derivative of e by one byte: the strings s such that b·s is in e.</summary>
    public int Derive(int e, byte b)
    {
        if (e <= Empty) return Nothing;
        if (_derivatives.TryGetValue((e, b), out int d)) return d;
        var n = _nodes[e];
        d = n.Kind switch
        {
            Kind.Bytes => _byteSets[n.A].Contains(b) ? Empty : Nothing,
            Kind.Concat => _nullable[n.A] ? Or(Concat(Derive(n.A, b), n.B), Derive(n.B, b)) : Concat(Derive(n.A, b), n.B),
            Kind.Or => Or(Derive(n.A, b), Derive(n.B, b)),
            Kind.Repeat => Concat(Derive(n.A, b), Repeat(n.A, Math.Max(n.Min - 1, 0), n.Max == Infinite ? Infinite : n.Max - 1)),
            _ => Nothing,
        };
        _derivatives[(e, b)] = d;
        return d;
    }

    /// <summary>True when e matches s exactly (tests and the compile-time checks).</summary>
    public bool Matches(int e, ReadOnlySpan<byte> s)
    {
        foreach (byte b in s) { e = Derive(e, b); if (e == Nothing) return false; }
        return IsNullable(e);
    }
}
