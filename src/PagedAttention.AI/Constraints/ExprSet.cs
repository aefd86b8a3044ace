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
    private readonly List<ByteSet> _first = [];
    private readonly Dictionary<Node, int> _ids = new();
    private readonly List<ByteSet> _byteSets = [];
    private readonly Dictionary<ByteSet, int> _byteSetIds = new();
    private readonly Dictionary<long, int> _derivatives = new();
    private readonly List<int> _leaves = [], _rest = [];

    // Plain-text facts for the slicer (see IsPlainClosed / PlainDepthBound). _plainFlag per node: 0 = nothing known,
    // Boundary = closed at a character boundary, else a UTF-8 decoder state (continuation bytes left, next byte's
    // range) after which the node is closed. Memos: 0 = unknown, 1 = yes, 2 = no; depth memo -1 = unknown.
    private const int Boundary = 1;
    private readonly List<int> _plainFlag = [];
    private readonly List<sbyte> _closedMemo = [];
    private readonly List<sbyte> _depthMemo = [];
    private readonly List<sbyte> _wordMemo = [];
    private readonly List<sbyte> _upperMemo = [];
    private readonly Dictionary<int, bool> _coversWord = new();

    public ExprSet()
    {
        Intern(new Node(Kind.Nothing, 0, 0, 0, 0), false);
        Intern(new Node(Kind.Empty, 0, 0, 0, 0), true);
    }

    public int Count => _nodes.Count;

    public bool IsNullable(int e) => _nullable[e];

    /// <summary>The bytes some word of e starts with: a derivative by any other byte is <see cref="Nothing"/>.</summary>
    public ByteSet First(int e) => _first[e];

    /// <summary>Every byte set used by a Bytes node (for the byte-class partition).</summary>
    public IReadOnlyList<ByteSet> ByteSets => _byteSets;

    private int Intern(Node n, bool nullable)
    {
        if (_ids.TryGetValue(n, out int id)) return id;
        id = _nodes.Count;
        _nodes.Add(n);
        _nullable.Add(nullable);
        _first.Add(n.Kind switch
        {
            Kind.Bytes => _byteSets[n.A],
            Kind.Concat => _nullable[n.A] ? _first[n.A].Union(_first[n.B]) : _first[n.A],
            Kind.Or => _first[n.A].Union(_first[n.B]),
            Kind.Repeat => _first[n.A],
            _ => ByteSet.Empty,
        });
        _plainFlag.Add(0);
        _closedMemo.Add(0);
        _depthMemo.Add(-1);
        _wordMemo.Add(-1);
        _upperMemo.Add(-1);
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
        int r = na.Kind == Kind.Concat
            ? Concat(na.A, Concat(na.B, b)) // right-nest
            : Intern(new Node(Kind.Concat, a, b, 0, 0), _nullable[a] && _nullable[b]);
        // A plain-text mark on the head holds for the whole (every prefix of a is one of a·b); right-nesting would
        // otherwise lose the marked node.
        if (_plainFlag[a] != 0 && _plainFlag[r] == 0) _plainFlag[r] = _plainFlag[a];
        return r;
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
        var leaves = _leaves;
        leaves.Clear();
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
        var rest = _rest;
        rest.Clear();
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
        if (e <= Empty || !_first[e].Contains(b)) return Nothing; // no word starts with b: no recursion, no memo entry
        long key = (long)e << 8 | b;
        if (_derivatives.TryGetValue(key, out int d))
        {
            // e may have been marked after this derivative was first taken.
            if (_plainFlag[e] != 0 && d > Empty && _plainFlag[d] == 0) _plainFlag[d] = Utf8Step(_plainFlag[e], b);
            return d;
        }
        var n = _nodes[e];
        d = n.Kind switch
        {
            Kind.Bytes => _byteSets[n.A].Contains(b) ? Empty : Nothing,
            Kind.Concat => _nullable[n.A] ? Or(Concat(Derive(n.A, b), n.B), Derive(n.B, b)) : Concat(Derive(n.A, b), n.B),
            Kind.Or => Or(Derive(n.A, b), Derive(n.B, b)),
            Kind.Repeat => Concat(Derive(n.A, b), Repeat(n.A, Math.Max(n.Min - 1, 0), n.Max == Infinite ? Infinite : n.Max - 1)),
            _ => Nothing,
        };
        _derivatives[key] = d;
        if (_plainFlag[e] != 0 && d > Empty && _plainFlag[d] == 0) _plainFlag[d] = Utf8Step(_plainFlag[e], b);
        return d;
    }

    // ---- plain text (the slicer's questions) ----

    /// <summary>
    /// The expression matching one character of a JSON string's inside (<see cref="RegexLowering.JsonChar"/>): a
    /// repeat of it absorbs any plain text. Set by <see cref="RegexLowering"/> when it builds the expression.
    /// </summary>
    public int PlainChar { get; set; } = -1;

    /// <summary>
    /// Records that every string of plain JSON-string characters (U+0020.., not '"' or '\') is a prefix of a word
    /// of <paramref name="e"/> (e.g. the inside of an additional-property key: strings not in a set). The fact is
    /// carried to derivatives by plain bytes, through partial UTF-8 characters.
    /// </summary>
    public void MarkPlainClosed(int e)
    {
        if (e > Empty) _plainFlag[e] = Boundary;
    }

    /// <summary>
    /// A sufficient test, by structure and marks, that no plain JSON-string text can kill <paramref name="e"/>: a
    /// repeat of <see cref="PlainChar"/> without upper bound, a marked node, a concatenation whose head is closed, or
    /// an alternation with a closed branch. "False" is always safe (the caller then searches or walks).
    /// </summary>
    public bool IsPlainClosed(int e)
    {
        if (e <= Empty) return false;
        if (_plainFlag[e] == Boundary) return true;
        sbyte m = _closedMemo[e];
        if (m != 0) return m == 1;
        var n = _nodes[e];
        bool r = n.Kind switch
        {
            Kind.Repeat => n.Max == Infinite && n.A == PlainChar,
            Kind.Concat => IsPlainClosed(n.A),
            Kind.Or => IsPlainClosed(n.A) || IsPlainClosed(n.B),
            _ => false,
        };
        _closedMemo[e] = r ? (sbyte)1 : (sbyte)2;
        return r;
    }

    /// <summary>
    /// A lower bound (capped at <paramref name="cap"/>) on the n such that every string of at most n plain
    /// characters is a prefix of a word of <paramref name="e"/>: a bounded repeat of <see cref="PlainChar"/> gives
    /// its upper bound; 0 when the structure says nothing.
    /// </summary>
    public int PlainDepthBound(int e, int cap)
    {
        if (e <= Empty) return 0;
        if (IsPlainClosed(e)) return cap;
        int m = _depthMemo[e];
        if (m >= 0) return Math.Min(m, cap);
        var n = _nodes[e];
        int r = n.Kind switch
        {
            Kind.Repeat when n.A == PlainChar => Math.Min(n.Max, 127),
            Kind.Concat => PlainDepthBound(n.A, 127),
            Kind.Or => Math.Max(PlainDepthBound(n.A, 127), PlainDepthBound(n.B, 127)),
            _ => 0,
        };
        _depthMemo[e] = (sbyte)r;
        return Math.Min(r, cap);
    }

    /// <summary>
    /// Like <see cref="PlainDepthBound"/> for words (ASCII letters and digits): a lower bound on the n such that every
    /// word of at most n characters is a prefix of a word of <paramref name="e"/> — a repeat of an expression that
    /// matches each letter and digit gives its upper bound (127 without one). Patterns and formats (paths, e-mail
    /// local parts) are made of such repeats.
    /// </summary>
    public int WordDepthBound(int e, int cap)
    {
        if (e <= Empty) return 0;
        int m = _wordMemo[e];
        if (m >= 0) return Math.Min(m, cap);
        var n = _nodes[e];
        int r = n.Kind switch
        {
            Kind.Repeat when CoversWordChars(n.A) => n.Max == Infinite ? 127 : Math.Min(n.Max, 127),
            Kind.Concat => WordDepthBound(n.A, 127),
            Kind.Or => Math.Max(WordDepthBound(n.A, 127), WordDepthBound(n.B, 127)),
            _ => 0,
        };
        r = Math.Max(r, PlainDepthBound(e, 127));
        _wordMemo[e] = (sbyte)r;
        return Math.Min(r, cap);
    }

    /// <summary>
    /// The other side of <see cref="PlainDepthBound"/>, exact where it answers: an n such that no plain string longer
    /// than n characters keeps <paramref name="e"/> alive and no plain string makes it complete (so plain text can
    /// neither outlive nor end the lexeme) — 0 when no word starts with a plain character, the bound M of
    /// <c>JsonChar{m,M}</c> followed by such a part (a <c>maxLength</c> string before its closing quote); 127 when
    /// the structure says nothing.
    /// </summary>
    public int PlainUpperBound(int e)
    {
        if (e <= Empty) return 127;
        int m = _upperMemo[e];
        if (m >= 0) return m;
        int r = 127;
        var n = _nodes[e];
        if (_nullable[e]) r = 127;
        else if (_first[e].Intersect(PlainStart).IsEmpty) r = 0;
        else if (n.Kind == Kind.Concat && _nodes[n.A] is { Kind: Kind.Repeat } rep && rep.A == PlainChar && rep.Max != Infinite
            && rep.Max < 127 && PlainUpperBound(n.B) == 0)
            r = rep.Max;
        else if (n.Kind == Kind.Or && PlainUpperBound(n.A) is var ua && ua < 127 && PlainUpperBound(n.B) is var ub && ub < 127)
            r = Math.Max(ua, ub);
        _upperMemo[e] = (sbyte)r;
        return r;
    }

    /// <summary>
    /// The room left when <paramref name="e"/> is exactly the inside of a JSON string before its closing quote,
    /// <c>JsonChar{m,M} "</c> (or the quote alone: room 0): M, int.MaxValue without an upper bound; -1 for any other
    /// shape. In such a state a token that does not close the string is allowed exactly when it is valid string
    /// text of at most M started characters, a property of the token alone (see TokenVocabulary.StringUpTo).
    /// </summary>
    public int StringRoom(int e)
    {
        if (e <= Empty || PlainChar < 0) return -1;
        var n = _nodes[e];
        if (IsQuote(n)) return 0;
        if (n.Kind != Kind.Concat || !IsQuote(_nodes[n.B])) return -1;
        var a = _nodes[n.A];
        if (a.Kind != Kind.Repeat || a.A != PlainChar) return -1;
        return a.Max == Infinite ? int.MaxValue : a.Max;
    }

    private bool IsQuote(Node n) => n.Kind == Kind.Bytes && _byteSets[n.A] == ByteSet.Of((byte)'"');

    // Bytes that can start a plain JSON-string character: printable ASCII but '"' and '\', and UTF-8 lead bytes.
    private static readonly ByteSet PlainStart = ByteSet.Range(0x20, 0x7F).Except(ByteSet.Of((byte)'"'))
        .Except(ByteSet.Of((byte)'\\')).Union(ByteSet.Range(0xC2, 0xF4));

    // x matches every one-character word string (each of 0-9, A-Z, a-z).
    private bool CoversWordChars(int x)
    {
        if (_coversWord.TryGetValue(x, out bool known)) return known;
        bool ok = true;
        for (int b = '0'; b <= 'z' && ok; b++)
            if (char.IsAsciiLetterOrDigit((char)b) && !IsNullable(Derive(x, (byte)b))) ok = false;
        _coversWord[x] = ok;
        return ok;
    }

    // The UTF-8 decoder over plain JSON-string text: from a state (Boundary, or continuation count and the next byte's
    // range) by one byte; 0 when the byte cannot continue plain text.
    private static int Utf8Step(int f, byte b)
    {
        static int Mid(int left, int lo, int hi) => left << 16 | lo << 8 | hi;
        if (f == Boundary)
        {
            if (b < 0x80) return b >= 0x20 && b != '"' && b != '\\' ? Boundary : 0;
            return b switch
            {
                >= 0xC2 and <= 0xDF => Mid(1, 0x80, 0xBF),
                0xE0 => Mid(2, 0xA0, 0xBF),
                0xED => Mid(2, 0x80, 0x9F),
                >= 0xE1 and <= 0xEF => Mid(2, 0x80, 0xBF),
                0xF0 => Mid(3, 0x90, 0xBF),
                >= 0xF1 and <= 0xF3 => Mid(3, 0x80, 0xBF),
                0xF4 => Mid(3, 0x80, 0x8F),
                _ => 0,
            };
        }
        int left = f >> 16, lo = (f >> 8) & 0xFF, hi = f & 0xFF;
        if (b < lo || b > hi) return 0;
        return left == 1 ? Boundary : Mid(left - 1, 0x80, 0xBF);
    }

    /// <summary>True when e matches s exactly (tests and the compile-time checks).</summary>
    public bool Matches(int e, ReadOnlySpan<byte> s)
    {
        foreach (byte b in s) { e = Derive(e, b); if (e == Nothing) return false; }
        return IsNullable(e);
    }
}
