namespace PagedAttention.AI.Constraints;

/// <summary>
/// Lowers a <see cref="RegexNode"/> to byte-level <see cref="ExprSet"/> nodes. Two encodings: <see cref="Raw"/>
/// matches the UTF-8 of the text itself (a regex constraint on the whole output); <see cref="JsonContent"/> matches
/// the same strings as they appear between the quotes of a JSON string literal, so a schema's <c>pattern</c>
/// constrains the decoded value while the model writes the escaped form. Characters that must be escaped in JSON
/// (<c>"</c>, <c>\</c>, controls) become their escape sequences (short forms where JSON has one, else
/// <c>\u00XX</c> in either hex case); other characters are taken raw, which is the canonical form.
/// </summary>
internal static class RegexLowering
{
    public static int Raw(ExprSet x, ParsedPattern p)
    {
        int body = Lower(x, p.Body, json: false);
        // Built only when needed: its byte sets would split the byte classes of an anchored pattern.
        int any = p.AnchoredStart && p.AnchoredEnd ? ExprSet.Nothing : x.Repeat(Utf8Sequences.Compile(x, CodepointSet.Any()), 0, ExprSet.Infinite);
        return x.Concat(p.AnchoredStart ? ExprSet.Empty : any, body, p.AnchoredEnd ? ExprSet.Empty : any);
    }

    public static int JsonContent(ExprSet x, ParsedPattern p)
    {
        int body = Lower(x, p.Body, json: true);
        int any = p.AnchoredStart && p.AnchoredEnd ? ExprSet.Nothing : x.Repeat(JsonChar(x), 0, ExprSet.Infinite);
        return x.Concat(p.AnchoredStart ? ExprSet.Empty : any, body, p.AnchoredEnd ? ExprSet.Empty : any);
    }

    /// <summary>Characters that appear raw inside a JSON string: every scalar value except controls, '"' and '\'.</summary>
    public static readonly CodepointSet JsonSafe = CodepointSet.Of((0x20, 0x21), (0x23, 0x5B), (0x5D, CodepointSet.MaxCodepoint));

    /// <summary>One character of a JSON string literal's inside, raw or escaped (any escape JSON allows).</summary>
    public static int JsonChar(ExprSet x)
    {
        int raw = Utf8Sequences.Compile(x, JsonSafe);
        int hex = x.Bytes(ByteSet.Range('0', '9').Union(ByteSet.Range('a', 'f')).Union(ByteSet.Range('A', 'F')));
        int shortEsc = x.Bytes(Set("\"\\/bfnrt"));
        int uEsc = x.Concat(x.Byte((byte)'u'), x.Repeat(hex, 4, 4));
        int c = x.Or(raw, x.Concat(x.Byte((byte)'\\'), x.Or(shortEsc, uEsc)));
        x.PlainChar = c;
        return c;
    }

    private static ByteSet Set(string chars)
    {
        var s = ByteSet.Empty;
        foreach (char c in chars) s = s.Union(ByteSet.Of((byte)c));
        return s;
    }

    private static int Lower(ExprSet x, RegexNode n, bool json) => n switch
    {
        RegexNode.Class c => json ? JsonClass(x, c.Set) : Utf8Sequences.Compile(x, c.Set),
        RegexNode.Seq s => x.Concat(s.Items.Select(i => Lower(x, i, json)).ToArray()),
        RegexNode.Alt a => x.Or(a.Items.Select(i => Lower(x, i, json))),
        RegexNode.Repeat r => x.Repeat(Lower(x, r.Item, json), r.Min, r.Max),
        _ => throw new InvalidOperationException(n.GetType().Name),
    };

    /// <summary>A class of characters as they are written inside a JSON string.</summary>
    public static int JsonClass(ExprSet x, CodepointSet set)
    {
        var safe = new CodepointSet().AddAll(set).Except(JsonSafe.Complement());
        var parts = new List<int> { Utf8Sequences.Compile(x, safe) };
        foreach (var (lo, hi) in set.Ranges)
            for (int cp = lo; cp <= Math.Min(hi, 0x5C); cp++)
                if (!JsonSafe.Contains(cp)) parts.Add(Escape(x, cp));
        return x.Or(parts);
    }

    private static int Escape(ExprSet x, int cp)
    {
        string? s = cp switch { '"' => "\\\"", '\\' => "\\\\", '\b' => "\\b", '\f' => "\\f", '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => null };
        if (s is not null) return x.Literal(s);
        string h = cp.ToString("x4");
        int e = x.Literal("\\u");
        foreach (char c in h) e = x.Concat(e, char.IsAsciiLetter(c) ? x.Bytes(ByteSet.Of((byte)c).Union(ByteSet.Of((byte)char.ToUpperInvariant(c)))) : x.Byte((byte)c));
        return e;
    }
}
