using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PagedAttention.AI.Constraints;

/// <summary>
/// Compiles a JSON Schema (2020-12; draft 4 with <see cref="JsonGrammarOptions.Draft4"/>) into a <see cref="Grammar"/>
/// whose sentences are the JSON texts valid under the schema, in one canonical shape: object properties in schema
/// order (listed properties first, then additional ones), bounded whitespace between tokens, no trailing
/// whitespace. Each schema becomes a nonterminal (memoised by JSON pointer, so <c>$ref</c> recursion is grammar
/// recursion); strings, numbers and literals become lexemes. Unsupported keywords throw
/// <see cref="GrammarCompileException"/> naming the keyword and pointer.
/// </summary>
internal sealed partial class JsonSchemaCompiler
{
    /// <summary>Keywords that only annotate: ignoring them changes no instance's validity.</summary>
    public static readonly HashSet<string> Annotations =
    [
        "title", "description", "default", "examples", "$schema", "$id", "id", "$comment", "deprecated", "readOnly",
        "writeOnly", "contentMediaType", "contentEncoding", "$anchor", "definitions", "$defs",
    ];

    private readonly GrammarBuilder _b = new();
    private readonly JsonGrammarOptions _o;
    private readonly JsonNode _root;
    private readonly Dictionary<string, int> _memo = new(StringComparer.Ordinal);
    private readonly int _lbrace, _rbrace, _lbrack, _rbrack, _comma, _colon, _string, _wsOpt;
    private int _any = -1;
    private int _mergeDepth;

    private ExprSet X => _b.Exprs;

    private JsonSchemaCompiler(JsonNode root, JsonGrammarOptions o)
    {
        _root = root;
        _o = o;
        _lbrace = _b.Literal("{");
        _rbrace = _b.Literal("}");
        _lbrack = _b.Literal("[");
        _rbrack = _b.Literal("]");
        _comma = _b.Literal(",");
        _colon = _b.Literal(":");
        _string = _b.Lexeme(StringExpr(X.Repeat(RegexLowering.JsonChar(X), 0, ExprSet.Infinite)), "string");
        _wsOpt = _b.Nonterminal("ws?");
        _b.Rule(_wsOpt);
        if (o.MaxWhitespace > 0)
            _b.Rule(_wsOpt, _b.Lexeme(X.Repeat(X.Bytes(ByteSet.Of((byte)' ').Union(ByteSet.Of((byte)'\t')).Union(ByteSet.Of((byte)'\n')).Union(ByteSet.Of((byte)'\r'))), 1, o.MaxWhitespace), "ws"));
    }

    /// <summary>Compiles schema text. <exception cref="GrammarCompileException">unsupported or unsatisfiable schema</exception></summary>
    public static Grammar Compile(string schema, JsonGrammarOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(schema);
        JsonNode? root;
        try { root = JsonNode.Parse(schema, documentOptions: new JsonDocumentOptions { MaxDepth = 512 }); }
        catch (JsonException e) { throw new GrammarCompileException("(document)", "#", "not valid JSON: " + e.Message, e); }
        return Compile(root ?? throw new GrammarCompileException("(document)", "#", "the schema is null"), options);
    }

    public static Grammar Compile(JsonNode root, JsonGrammarOptions? options = null)
    {
        var c = new JsonSchemaCompiler(root, options ?? JsonGrammarOptions.Default);
        return c.Finish(c.Schema(root, "#"));
    }

    /// <summary>Any JSON value (JSON mode without a schema); <paramref name="objectOnly"/> for OpenAI's json_object.</summary>
    public static Grammar AnyJson(bool objectOnly = false, JsonGrammarOptions? options = null)
    {
        var c = new JsonSchemaCompiler(new JsonObject(), options ?? JsonGrammarOptions.Default);
        return c.Finish(objectOnly ? c.Schema(new JsonObject { ["type"] = "object" }, "#") : c.AnyValue());
    }

    private Grammar Finish(int value)
    {
        int start = _b.Nonterminal("document");
        _b.Rule(start, _wsOpt, value); // leading whitespace (Llama-2 tokens start with a space), none trailing
        try { return _b.Build(start); }
        catch (ArgumentException e) { throw new GrammarCompileException("(document)", "#", e.Message, e); }
    }

    private int StringExpr(int content) => X.Concat(X.Byte((byte)'"'), content, X.Byte((byte)'"'));

    private int Lit(string text) => _b.Lexeme(X.Literal(text), text);

    private int Nt(string name, params int[][] alternatives)
    {
        int n = _b.Nonterminal(name);
        foreach (var alt in alternatives) _b.Rule(n, alt);
        return n;
    }

    // ---- schemas ----

    private int Schema(JsonNode? node, string ptr)
    {
        if (node is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
        {
            if (v.GetValue<bool>()) return AnyValue();
            throw new GrammarCompileException("false", ptr, "the false schema matches nothing (unsatisfiable)");
        }
        if (node is not JsonObject o) throw new GrammarCompileException("(schema)", ptr, "a schema must be an object or a boolean");
        if (_memo.TryGetValue(ptr, out int done)) return done;
        // Reserve the nonterminal first: a $ref back to this schema then refers to it (recursion).
        int nt = _b.Nonterminal(ptr);
        _memo[ptr] = nt;
        foreach (int[] alt in Alternatives(o, ptr)) _b.Rule(nt, alt);
        return nt;
    }

    private IEnumerable<int[]> Alternatives(JsonObject o, string ptr)
    {
        // Names that are no keyword at all are ignored, as the specification says (they often hold $ref targets);
        // a keyword we do not implement is an error, never ignored.
        foreach (var (k, _) in o)
            if (Unsupported.Contains(k) && !(_o.Draft4 && k == "additionalItems"))
                throw new GrammarCompileException(k, ptr, "keyword not supported");
        if (o["$ref"] is { } refNode)
        {
            string target = refNode.GetValue<string>();
            var resolved = Resolve(target, ptr);
            var siblings = Constraints(o, "$ref");
            if (_o.Draft4 || siblings.Count == 0) return [[Schema(resolved, target)]];
            return [[MergedSchema([resolved, siblings], ptr)]];
        }
        if (o["allOf"] is JsonArray all)
        {
            var parts = all.Select((s, i) => (JsonNode?)s).Append(Constraints(o, "allOf")).ToList();
            return [[MergedSchema(parts, ptr + "/allOf")]];
        }
        foreach (string kw in (string[])["anyOf", "oneOf"])
        {
            if (o[kw] is not JsonArray branches) continue;
            var siblings = Constraints(o, kw);
            var list = new List<JsonNode?>();
            for (int i = 0; i < branches.Count; i++)
                list.Add(siblings.Count == 0 ? branches[i] : Merge([branches[i], siblings], $"{ptr}/{kw}/{i}"));
            if (kw == "oneOf") CheckDisjoint(list, ptr + "/oneOf");
            return list.Select((b, i) => new[] { siblings.Count == 0 ? Schema(b, $"{ptr}/{kw}/{i}") : SchemaOfSynthetic(b, $"{ptr}/{kw}/{i}") }).ToList();
        }
        if (o["const"] is { } || o.ContainsKey("const")) return [[Const(o["const"], ptr + "/const")]];
        if (o["enum"] is JsonArray en)
        {
            var types = o["type"] is { } tn ? JsonSchemaMerger.Types(tn) : null;
            var values = en.Where(v => types is null || types.Any(t => IsOfType(v, t))).ToList();
            if (values.Count == 0) throw new GrammarCompileException("enum", ptr, "no enum value (of the allowed types): unsatisfiable");
            return values.Select((v, i) => new[] { Const(v, $"{ptr}/enum/{i}") }).ToList();
        }
        return Typed(o, ptr);
    }

    private static readonly HashSet<string> Supported =
    [
        "$ref", "allOf", "anyOf", "oneOf", "const", "enum", "type", "properties", "required", "additionalProperties",
        "items", "prefixItems", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength", "pattern", "format",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minProperties", "maxProperties",
    ];

    private static readonly HashSet<string> Unsupported =
    [
        "not", "if", "then", "else", "patternProperties", "propertyNames", "dependencies", "dependentRequired",
        "dependentSchemas", "contains", "minContains", "maxContains", "unevaluatedProperties", "unevaluatedItems",
        "multipleOf", "additionalItems", "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor",
        "extends", "disallow", "divisibleBy",
    ];

    /// <summary>The schema's constraint keywords other than <paramref name="except"/> (annotations dropped).</summary>
    private static JsonObject Constraints(JsonObject o, string except)
    {
        var r = new JsonObject();
        foreach (var (k, v) in o) if (k != except && (Supported.Contains(k) || Unsupported.Contains(k))) r[k] = v?.DeepClone();
        return r;
    }

    private int MergedSchema(List<JsonNode?> parts, string ptr) => SchemaOfSynthetic(Merge(parts, ptr), ptr);

    // A schema built by the compiler has no pointer of its own: memoise on its text.
    private int SchemaOfSynthetic(JsonNode? node, string ptr)
    {
        string key = "merged:" + node?.ToJsonString();
        if (_memo.TryGetValue(key, out int nt)) return nt;
        if (_mergeDepth > 32) throw new GrammarCompileException("allOf", ptr, "recursive $ref inside allOf/anyOf with siblings is not supported");
        _mergeDepth++;
        try
        {
            nt = _b.Nonterminal(key);
            _memo[key] = nt;
            if (node is JsonValue) { _b.Rule(nt, Schema(node, ptr)); return nt; }
            // Compile under the synthetic key (Schema memoises by pointer).
            foreach (int[] alt in Alternatives((JsonObject)node!, ptr)) _b.Rule(nt, alt);
            return nt;
        }
        finally { _mergeDepth--; }
    }

    private JsonNode Merge(IEnumerable<JsonNode?> parts, string ptr)
    {
        JsonObject acc = new();
        foreach (var raw in parts)
        {
            var p = raw;
            for (int hops = 0; p is JsonObject po && po["$ref"] is { } r && (_o.Draft4 || Constraints(po, "$ref").Count == 0); hops++)
            {
                if (hops > 32) throw new GrammarCompileException("$ref", ptr, "reference chain too long");
                p = Resolve(r.GetValue<string>(), ptr);
            }
            if (p is JsonValue v && v.GetValueKind() == JsonValueKind.True) continue;
            if (p is JsonValue f && f.GetValueKind() == JsonValueKind.False) throw new GrammarCompileException("allOf", ptr, "contains the false schema (unsatisfiable)");
            if (p is not JsonObject obj) throw new GrammarCompileException("allOf", ptr, "a schema must be an object or a boolean");
            if (obj["allOf"] is JsonArray nested)
            {
                if (++_mergeDepth > 32) throw new GrammarCompileException("allOf", ptr, "allOf nested too deeply (recursive?)");
                try { acc = JsonSchemaMerger.Merge(acc, (JsonObject)Merge(nested.Append(Constraints(obj, "allOf")), ptr), ptr); }
                finally { _mergeDepth--; }
                continue;
            }
            if (obj.ContainsKey("$ref")) throw new GrammarCompileException("$ref", ptr, "$ref with sibling keywords inside allOf is not supported");
            if ((acc.ContainsKey("anyOf") || acc.ContainsKey("oneOf")) && (obj.ContainsKey("anyOf") || obj.ContainsKey("oneOf")))
                throw new GrammarCompileException("anyOf", ptr, "allOf of two anyOf/oneOf is not supported");
            acc = JsonSchemaMerger.Merge(acc, obj, ptr);
        }
        return acc.Count == 0 ? JsonValue.Create(true) : acc;
    }

    private JsonNode? Resolve(string reference, string ptr)
    {
        if (!reference.StartsWith('#')) throw new GrammarCompileException("$ref", ptr, $"only local references are supported, not '{reference}'");
        JsonNode? cur = _root;
        string path = Uri.UnescapeDataString(reference[1..]);
        if (path.Length == 0) return cur;
        if (path[0] != '/') throw new GrammarCompileException("$ref", ptr, $"anchors are not supported: '{reference}'");
        foreach (string rawPart in path[1..].Split('/'))
        {
            string part = rawPart.Replace("~1", "/").Replace("~0", "~");
            cur = cur switch
            {
                JsonObject o when o.TryGetPropertyValue(part, out var n) => n,
                JsonArray a when int.TryParse(part, CultureInfo.InvariantCulture, out int i) && i >= 0 && i < a.Count => a[i],
                _ => throw new GrammarCompileException("$ref", ptr, $"'{reference}' does not resolve"),
            };
        }
        return cur;
    }

    private static void CheckDisjoint(List<JsonNode?> branches, string ptr)
    {
        // Disjoint when each branch has a known, non-overlapping set of JSON types, or all are consts/enums without shared values.
        var seenTypes = new HashSet<string>();
        bool byType = true;
        foreach (var b in branches)
        {
            IEnumerable<string>? types = b switch
            {
                JsonObject o when o["type"] is { } t => JsonSchemaMerger.Types(t),
                JsonObject o when o.ContainsKey("const") => [KindOf(o["const"])],
                JsonObject o when o["enum"] is JsonArray e => e.Select(KindOf).Distinct(),
                _ => null,
            };
            if (types is null) { byType = false; break; }
            foreach (string ty in types.Select(x => x == "integer" ? "number" : x))
                if (!seenTypes.Add(ty)) { byType = false; break; }
            if (!byType) break;
        }
        if (byType) return;
        var seenValues = new HashSet<string>(StringComparer.Ordinal);
        foreach (var b in branches)
        {
            IEnumerable<JsonNode?>? values = b switch
            {
                JsonObject o when o.ContainsKey("const") => [o["const"]],
                JsonObject o when o["enum"] is JsonArray e => e,
                _ => null,
            };
            if (values is null || values.Any(v => !seenValues.Add(JsonCanonical.Value(v))))
                throw new GrammarCompileException("oneOf", ptr, "branches are not provably disjoint (only distinct types or distinct const/enum values are supported)");
        }
    }

    private static string KindOf(JsonNode? v) => (v?.GetValueKind() ?? JsonValueKind.Null) switch
    {
        JsonValueKind.Object => "object", JsonValueKind.Array => "array", JsonValueKind.String => "string",
        JsonValueKind.Number => "number", JsonValueKind.True or JsonValueKind.False => "boolean", _ => "null",
    };

    private static bool IsOfType(JsonNode? v, string type) => (v?.GetValueKind() ?? JsonValueKind.Null, type) switch
    {
        (JsonValueKind.Null, "null") or (JsonValueKind.True or JsonValueKind.False, "boolean") or (JsonValueKind.String, "string")
            or (JsonValueKind.Object, "object") or (JsonValueKind.Array, "array") or (JsonValueKind.Number, "number") => true,
        (JsonValueKind.Number, "integer") => IsIntegerText(v!.ToJsonString()),
        _ => false,
    };

    private static bool IsIntegerText(string s) => BigInteger.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _);
}
