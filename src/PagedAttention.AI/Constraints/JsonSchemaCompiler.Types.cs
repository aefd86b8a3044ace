using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PagedAttention.AI.Constraints;

// The per-type grammars: objects, arrays, strings, numbers, literals, and the generic JSON value.
internal sealed partial class JsonSchemaCompiler
{
    private static readonly string[] AllTypes = ["object", "array", "string", "number", "boolean", "null"];

    private IEnumerable<int[]> Typed(JsonObject o, string ptr)
    {
        var types = o["type"] is { } t ? JsonSchemaMerger.Types(t) : [.. AllTypes];
        if (types.Contains("number")) types.Remove("integer");
        if (o["uniqueItems"] is JsonValue u && u.GetValueKind() == JsonValueKind.True && types.Contains("array"))
            throw new GrammarCompileException("uniqueItems", ptr, "uniqueItems: true is not supported");
        var alts = new List<int[]>();
        foreach (string type in types)
        {
            switch (type)
            {
                case "object": alts.Add([Object(o, ptr)]); break;
                case "array": alts.Add([Array(o, ptr)]); break;
                case "string": alts.Add([String(o, ptr)]); break;
                case "number": alts.Add([Number(o, ptr, integer: false)]); break;
                case "integer": alts.Add([Number(o, ptr, integer: true)]); break;
                case "boolean": alts.Add([Lit("true")]); alts.Add([Lit("false")]); break;
                case "null": alts.Add([Lit("null")]); break;
                default: throw new GrammarCompileException("type", ptr, $"unknown type '{type}'");
            }
        }
        return alts;
    }

    /// <summary>The generic JSON value: what <c>true</c> and <c>{}</c> allow.</summary>
    private int AnyValue()
    {
        if (_any >= 0) return _any;
        _any = _b.Nonterminal("any");
        int elem = Nt("any-elem", [_any, _wsOpt]);
        int pair = Nt("any-pair", [_string, _wsOpt, _colon, _wsOpt, _any, _wsOpt]);
        int sep = Nt("sep", [_comma, _wsOpt]);
        int pairs = Nt("any-pairs", [pair]);
        _b.Rule(pairs, pairs, sep, pair);
        int elems = Nt("any-elems", [elem]);
        _b.Rule(elems, elems, sep, elem);
        _b.Rule(_any, _lbrace, _wsOpt, _rbrace);
        _b.Rule(_any, _lbrace, _wsOpt, pairs, _rbrace);
        _b.Rule(_any, _lbrack, _wsOpt, _rbrack);
        _b.Rule(_any, _lbrack, _wsOpt, elems, _rbrack);
        _b.Rule(_any, _string);
        _b.Rule(_any, _b.Lexeme(JsonLexemes.Number(X), "number"));
        _b.Rule(_any, Lit("true"));
        _b.Rule(_any, Lit("false"));
        _b.Rule(_any, Lit("null"));
        return _any;
    }

    /// <summary>A literal value: scalars are one lexeme; objects and arrays reuse the punctuation lexemes so they never fight other lexemes.</summary>
    private int Const(JsonNode? v, string ptr)
    {
        switch (v)
        {
            case JsonObject o:
            {
                var seq = new List<int> { _lbrace, _wsOpt };
                bool first = true;
                foreach (var (k, x) in o)
                {
                    if (!first) seq.AddRange([_comma, _wsOpt]);
                    first = false;
                    seq.AddRange([Lit(JsonCanonical.String(k)), _wsOpt, _colon, _wsOpt, Const(x, ptr), _wsOpt]);
                }
                seq.Add(_rbrace);
                return Nt(ptr, [.. seq]);
            }
            case JsonArray a:
            {
                var seq = new List<int> { _lbrack, _wsOpt };
                for (int i = 0; i < a.Count; i++)
                {
                    if (i > 0) seq.AddRange([_comma, _wsOpt]);
                    seq.AddRange([Const(a[i], ptr), _wsOpt]);
                }
                seq.Add(_rbrack);
                return Nt(ptr, [.. seq]);
            }
            default:
                return Nt(ptr, [Lit(JsonCanonical.Value(v))]);
        }
    }

    private int Object(JsonObject o, string ptr)
    {
        if (o["minProperties"] is { } minP && minP.GetValue<double>() > 0 || o["maxProperties"] is { })
            throw new GrammarCompileException(o.ContainsKey("maxProperties") ? "maxProperties" : "minProperties", ptr, "property counts are not supported");
        var props = new List<(string Name, JsonNode? Schema, string Ptr)>();
        if (o["properties"] is JsonObject p)
            foreach (var (k, s) in p) props.Add((k, s, $"{ptr}/properties/{Escape(k)}"));
        var required = (o["required"] as JsonArray)?.Select(n => n!.GetValue<string>()).ToHashSet() ?? [];
        JsonNode? additional = o.TryGetPropertyValue("additionalProperties", out var ap) ? ap : JsonValue.Create(true);
        bool noAdditional = additional is JsonValue av && av.GetValueKind() == JsonValueKind.False;
        foreach (string r in (o["required"] as JsonArray)?.Select(n => n!.GetValue<string>()) ?? []) // schema order
        {
            if (props.Any(x => x.Name == r)) continue;
            if (noAdditional) throw new GrammarCompileException("required", ptr, $"'{r}' is required but additionalProperties is false (unsatisfiable)");
            props.Add((r, additional, $"{ptr}/additionalProperties"));
        }
        if (props.Count > _o.MaxUnroll) throw new GrammarCompileException("properties", ptr, $"more than {_o.MaxUnroll} properties");
        int sep = Nt(ptr + ":sep", [_comma, _wsOpt]);
        // T[i]: properties i.. after at least one was written (each preceded by a comma); F[i]: none written yet.
        int tail, tailFirst;
        if (noAdditional)
        {
            tail = _b.Nonterminal(ptr + ":end");
            _b.Rule(tail);
            tailFirst = tail;
        }
        else
        {
            int key = _b.Lexeme(StringExpr(NotIn(props.Select(x => x.Name).ToList())), ptr + ":key");
            int pair = Nt(ptr + ":extra", [key, _wsOpt, _colon, _wsOpt, Schema(additional, ptr + "/additionalProperties"), _wsOpt]);
            tail = _b.Nonterminal(ptr + ":extras");
            _b.Rule(tail);
            _b.Rule(tail, sep, pair, tail);
            tailFirst = Nt(ptr + ":extras0", [], [pair, tail]);
        }
        int t = tail, f = tailFirst;
        for (int i = props.Count - 1; i >= 0; i--)
        {
            var (name, schema, pptr) = props[i];
            int pair = Nt($"{pptr}:pair", [Lit(JsonCanonical.String(name)), _wsOpt, _colon, _wsOpt, Schema(schema, pptr), _wsOpt]);
            bool req = required.Contains(name);
            int nt = _b.Nonterminal($"{ptr}:T{i}"), nf = _b.Nonterminal($"{ptr}:F{i}");
            _b.Rule(nt, sep, pair, t);
            _b.Rule(nf, pair, t);
            if (!req) { _b.Rule(nt, t); _b.Rule(nf, f); }
            t = nt;
            f = nf;
        }
        return Nt(ptr + ":object", [_lbrace, _wsOpt, f, _rbrace]);
    }

    private static string Escape(string k) => k.Replace("~", "~0").Replace("/", "~1");

    /// <summary>The inside of a JSON string whose value is none of <paramref name="names"/> (for additional property keys).</summary>
    private int NotIn(List<string> names)
    {
        int any = X.Repeat(RegexLowering.JsonChar(X), 0, ExprSet.Infinite);
        if (names.Count == 0) return any;
        var cps = names.Distinct().Select(n => n.EnumerateRunes().Select(r => r.Value).ToArray()).ToList();
        int notIn = NotInFrom(cps, 0, any);
        // Every plain text is a prefix of some non-member (a name's prefix, or past it any string): the slicer applies.
        X.MarkPlainClosed(notIn);
        return notIn;
    }

    // Strings not in the set, given that all of `set` share the first `depth` code points with what was written.
    private int NotInFrom(List<int[]> set, int depth, int any)
    {
        var parts = new List<int>();
        if (!set.Any(s => s.Length == depth)) parts.Add(ExprSet.Empty); // stop here: not a member
        var next = set.Where(s => s.Length > depth).GroupBy(s => s[depth]).ToList();
        var used = new CodepointSet();
        foreach (var g in next)
        {
            used.Add(g.Key, g.Key);
            parts.Add(X.Concat(RegexLowering.JsonClass(X, CodepointSet.Of((g.Key, g.Key))), NotInFrom(g.ToList(), depth + 1, any)));
        }
        // A different character (raw or any escape) leaves the set for good.
        int other = X.Or(RegexLowering.JsonClass(X, used.Complement()), EscapeOnly());
        parts.Add(X.Concat(other, any));
        return X.Or(parts);
    }

    // Escapes other than the canonical ones JsonClass emits (\/ and \uXXXX): treated as "different" spellings.
    private int EscapeOnly()
    {
        int hex = X.Bytes(ByteSet.Range('0', '9').Union(ByteSet.Range('a', 'f')).Union(ByteSet.Range('A', 'F')));
        return X.Concat(X.Byte((byte)'\\'), X.Or(X.Byte((byte)'/'), X.Concat(X.Byte((byte)'u'), X.Repeat(hex, 4, 4))));
    }

    private int Array(JsonObject o, string ptr)
    {
        var prefix = new List<(JsonNode? Schema, string Ptr)>();
        JsonNode? rest;
        if (_o.Draft4 && o["items"] is JsonArray tuple)
        {
            for (int i = 0; i < tuple.Count; i++) prefix.Add((tuple[i], $"{ptr}/items/{i}"));
            rest = o.TryGetPropertyValue("additionalItems", out var ai) ? ai : JsonValue.Create(true);
        }
        else
        {
            if (o["prefixItems"] is JsonArray pi) for (int i = 0; i < pi.Count; i++) prefix.Add((pi[i], $"{ptr}/prefixItems/{i}"));
            if (o["items"] is JsonArray) throw new GrammarCompileException("items", ptr, "array-form items is draft 4-2019; use prefixItems");
            rest = o.TryGetPropertyValue("items", out var it) ? it : JsonValue.Create(true);
        }
        bool restNone = rest is JsonValue rv && rv.GetValueKind() == JsonValueKind.False;
        int min = o["minItems"] is { } mi ? (int)Math.Min(int.MaxValue, Math.Ceiling(mi.GetValue<double>())) : 0;
        int max = o["maxItems"] is { } ma ? (int)Math.Min(int.MaxValue, Math.Floor(ma.GetValue<double>())) : -1;
        if (restNone) max = max < 0 ? prefix.Count : Math.Min(max, prefix.Count);
        if (max >= 0 && min > max) throw new GrammarCompileException("minItems", ptr, "minItems above the possible item count (unsatisfiable)");
        int unroll = Math.Max(Math.Max(min, prefix.Count), max);
        if (unroll > _o.MaxUnroll) throw new GrammarCompileException(max > _o.MaxUnroll ? "maxItems" : "minItems", ptr, $"more than {_o.MaxUnroll} positions to unroll");
        int sep = Nt(ptr + ":sep", [_comma, _wsOpt]);
        int restElem = restNone ? -1 : Nt(ptr + ":item", [Schema(rest, ptr + (_o.Draft4 && o["items"] is JsonArray ? "/additionalItems" : "/items")), _wsOpt]);
        int Elem(int j) => j < prefix.Count ? Nt($"{prefix[j].Ptr}:item", [Schema(prefix[j].Schema, prefix[j].Ptr), _wsOpt]) : restElem;
        // T(j): items j.. after j items were written. Past the unrolled part, an unbounded tail loops.
        int last = unroll;
        int tLast = _b.Nonterminal($"{ptr}:T{last}");
        _b.Rule(tLast);
        if (max < 0 && !restNone) _b.Rule(tLast, sep, restElem, tLast);
        int t = tLast;
        for (int j = last - 1; j >= 1; j--)
        {
            int nt = _b.Nonterminal($"{ptr}:T{j}");
            if (j >= min) _b.Rule(nt);
            _b.Rule(nt, sep, Elem(j), t);
            t = nt;
        }
        int f = _b.Nonterminal($"{ptr}:F0");
        if (min == 0) _b.Rule(f);
        if (max != 0)
        {
            if (last == 0) _b.Rule(f, Elem(0), t); // unbounded, nothing unrolled: t is the loop
            else _b.Rule(f, Elem(0), t);
        }
        return Nt(ptr + ":array", [_lbrack, _wsOpt, f, _rbrack]);
    }

    private int String(JsonObject o, string ptr)
    {
        int min = o["minLength"] is { } a ? (int)Math.Ceiling(a.GetValue<double>()) : 0;
        int max = o["maxLength"] is { } b ? (int)Math.Min(int.MaxValue, Math.Floor(b.GetValue<double>())) : -1;
        if (max >= 0 && min > max) throw new GrammarCompileException("minLength", ptr, "minLength above maxLength (unsatisfiable)");
        if (min > RegexParser.MaxRepeat || max > RegexParser.MaxRepeat) throw new GrammarCompileException(max > RegexParser.MaxRepeat ? "maxLength" : "minLength", ptr, $"bounds over {RegexParser.MaxRepeat}");
        string? pattern = o["pattern"]?.GetValue<string>();
        string? format = o["format"]?.GetValue<string>();
        bool counted = min > 0 || max >= 0;
        if ((pattern is not null ? 1 : 0) + (format is not null ? 1 : 0) + (counted ? 1 : 0) > 1)
            throw new GrammarCompileException(pattern is not null ? "pattern" : "format", ptr, "combining pattern, format and min/maxLength is not supported");
        int content;
        if (pattern is not null)
        {
            try { content = RegexLowering.JsonContent(X, RegexParser.Parse(pattern)); }
            catch (RegexParseException e) { throw new GrammarCompileException("pattern", ptr, e.Message, e); }
        }
        else if (format is not null)
        {
            string fp = JsonLexemes.FormatPattern(format) ?? throw new GrammarCompileException("format", ptr, $"format '{format}' is not supported");
            content = RegexLowering.JsonContent(X, RegexParser.Parse("^" + fp + "$"));
        }
        else content = X.Repeat(RegexLowering.JsonChar(X), min, max);
        if (content == ExprSet.Nothing) throw new GrammarCompileException("pattern", ptr, "matches no string");
        int lex = content == X.Repeat(RegexLowering.JsonChar(X), 0, ExprSet.Infinite) ? _string : _b.Lexeme(StringExpr(content), ptr + ":string");
        return Nt(ptr + ":string", [lex]);
    }

    private int Number(JsonObject o, string ptr, bool integer)
    {
        if (o.ContainsKey("multipleOf")) throw new GrammarCompileException("multipleOf", ptr, "not supported");
        BigRational? lo = Bound(o, "minimum", ptr), hi = Bound(o, "maximum", ptr);
        bool exLo = false, exHi = false;
        if (_o.Draft4)
        {
            exLo = o["exclusiveMinimum"] is JsonValue el && el.GetValueKind() == JsonValueKind.True;
            exHi = o["exclusiveMaximum"] is JsonValue eh && eh.GetValueKind() == JsonValueKind.True;
        }
        else
        {
            if (Bound(o, "exclusiveMinimum", ptr) is { } xl && (lo is null || xl.CompareTo(lo.Value) >= 0)) { lo = xl; exLo = true; }
            if (Bound(o, "exclusiveMaximum", ptr) is { } xh && (hi is null || xh.CompareTo(hi.Value) <= 0)) { hi = xh; exHi = true; }
        }
        int expr;
        if (integer)
        {
            BigInteger? l = lo is { } L ? (exLo ? L.Floor() + 1 : L.Ceiling()) : null;
            BigInteger? h = hi is { } H ? (exHi ? H.Ceiling() - 1 : H.Floor()) : null;
            expr = JsonLexemes.IntegerRange(X, l, h);
        }
        else
        {
            if ((lo is { } L && (!L.IsInteger || exLo)) || (hi is { } H && (!H.IsInteger || exHi)))
                throw new GrammarCompileException(lo is { } L2 && (!L2.IsInteger || exLo) ? (exLo ? "exclusiveMinimum" : "minimum") : (exHi ? "exclusiveMaximum" : "maximum"),
                    ptr, "only inclusive integer bounds are supported for type number");
            expr = JsonLexemes.NumberRange(X, lo?.Floor(), hi?.Floor());
        }
        if (expr == ExprSet.Nothing) throw new GrammarCompileException("minimum", ptr, "no number within the bounds (unsatisfiable)");
        return Nt(ptr + (integer ? ":integer" : ":number"), [_b.Lexeme(expr, ptr + ":number")]);
    }

    private static BigRational? Bound(JsonObject o, string key, string ptr)
    {
        if (o[key] is not JsonValue v || v.GetValueKind() != JsonValueKind.Number) return null;
        return BigRational.Parse(v.ToJsonString()) ?? throw new GrammarCompileException(key, ptr, "bound is not a finite decimal");
    }
}
