using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace PagedAttention.Text.Tokenization;

/// <summary>Everything read from a tokenizer.json.</summary>
internal sealed record TokenizerPipeline(
    BpeModel Model, Normalizer? Normalizer, PreTokenizer? PreTokenizer, PostProcessor? PostProcessor, Decoder? Decoder,
    List<AddedTokenInfo> AddedTokens);

/// <summary>
/// Builds the pipeline from tokenizer.json. Every failure becomes a <see cref="TokenizerLoadException"/> whose
/// message starts with the JSON path of the component, so a bad file says where it is bad.
/// </summary>
internal static class TokenizerJsonReader
{
    /// <summary>Ids must lie in [0, MaxVocabSize): the id-indexed tables are sized from the largest id (4,194,304, config.json's vocab_size limit).</summary>
    public const int MaxVocabSize = 4_194_304;

    /// <summary>Most merges (the largest real vocabularies have about 500,000).</summary>
    public const int MaxMerges = 4_194_304;

    public static TokenizerPipeline Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new TokenizerLoadException("tokenizer.json: the root is not a JSON object");
        var added = ReadAddedTokens(root);
        var model = ReadModel(Required(root, "model", "model"), "model");
        Normalizer? normalizer = OptionalObject(root, "normalizer") is { } n ? ReadNormalizer(n, "normalizer") : null;
        PreTokenizer? pre = OptionalObject(root, "pre_tokenizer") is { } p ? ReadPreTokenizer(p, "pre_tokenizer") : null;
        Decoder? dec = OptionalObject(root, "decoder") is { } d ? ReadDecoder(d, "decoder") : null;
        var tokenIds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in added) tokenIds[t.Content] = t.Id;
        int vocabSize = model.IdToToken.Length;
        foreach (var t in added) vocabSize = Math.Max(vocabSize, t.Id + 1);
        PostProcessor? post = OptionalObject(root, "post_processor") is { } pp ? ReadPostProcessor(pp, "post_processor", vocabSize) : null;
        return new TokenizerPipeline(model, normalizer, pre, post, dec, added);
    }

    private static List<AddedTokenInfo> ReadAddedTokens(JsonElement root)
    {
        var list = new List<AddedTokenInfo>();
        if (!root.TryGetProperty("added_tokens", out var arr) || arr.ValueKind == JsonValueKind.Null) return list;
        if (arr.ValueKind != JsonValueKind.Array) throw new TokenizerLoadException("added_tokens: expected an array");
        if (arr.GetArrayLength() > MaxVocabSize) throw new TokenizerLoadException($"added_tokens: {arr.GetArrayLength()} entries, more than the limit of {MaxVocabSize}");
        int i = 0;
        foreach (var t in arr.EnumerateArray())
        {
            string path = $"added_tokens[{i++}]";
            if (t.ValueKind != JsonValueKind.Object) throw new TokenizerLoadException($"{path}: expected an object");
            list.Add(new AddedTokenInfo(GetId(t, "id", path), GetString(t, "content", path), GetBool(t, "special", path, false),
                GetBool(t, "lstrip", path, false), GetBool(t, "rstrip", path, false), GetBool(t, "single_word", path, false),
                GetBool(t, "normalized", path, true)));
        }
        return list;
    }

    private static BpeModel ReadModel(JsonElement m, string path)
    {
        if (m.ValueKind != JsonValueKind.Object) throw new TokenizerLoadException($"{path}: expected an object");
        string type = OptString(m, "type", path) ?? "BPE";
        if (type != "BPE") throw new TokenizerLoadException($"{path}: unsupported model type '{type}' (only BPE is implemented)");
        if (m.TryGetProperty("dropout", out var dp) && dp.ValueKind != JsonValueKind.Null)
        {
            if (dp.ValueKind != JsonValueKind.Number || !dp.TryGetDouble(out double dropout)) throw new TokenizerLoadException($"{path}.dropout: expected a number or null");
            if (dropout > 0) throw new TokenizerLoadException($"{path}.dropout: BPE dropout is not supported for inference");
        }
        var vocabEl = Required(m, "vocab", path);
        if (vocabEl.ValueKind != JsonValueKind.Object) throw new TokenizerLoadException($"{path}.vocab: expected an object of token -> id");
        int vocabCount = vocabEl.GetPropertyCount();
        if (vocabCount > MaxVocabSize) throw new TokenizerLoadException($"{path}.vocab: {vocabCount} entries, more than the limit of {MaxVocabSize}");
        var vocab = new Dictionary<string, int>(vocabCount, StringComparer.Ordinal);
        foreach (var kv in vocabEl.EnumerateObject())
        {
            if (kv.Value.ValueKind != JsonValueKind.Number || !kv.Value.TryGetInt32(out int id) || id < 0)
                throw new TokenizerLoadException($"{path}.vocab['{kv.Name}']: id {Raw(kv.Value)} is not a non-negative integer");
            if (id >= MaxVocabSize) throw new TokenizerLoadException($"{path}.vocab['{kv.Name}']: id {id} is above the limit of {MaxVocabSize - 1} (ids must lie in [0, {MaxVocabSize}))");
            vocab[kv.Name] = id;
        }
        var merges = new List<(string, string)>();
        if (m.TryGetProperty("merges", out var mergesEl) && mergesEl.ValueKind != JsonValueKind.Null)
        {
            if (mergesEl.ValueKind != JsonValueKind.Array) throw new TokenizerLoadException($"{path}.merges: expected an array");
            if (mergesEl.GetArrayLength() > MaxMerges) throw new TokenizerLoadException($"{path}.merges: {mergesEl.GetArrayLength()} entries, more than the limit of {MaxMerges}");
            int i = 0;
            foreach (var e in mergesEl.EnumerateArray())
            {
                if (e.ValueKind == JsonValueKind.String)
                {
                    // Legacy "a b" form: split at the first space (tokens never contain a raw space here).
                    string s = e.GetString()!;
                    int sp = s.IndexOf(' ', 1);
                    if (sp < 0) throw new TokenizerLoadException($"{path}.merges[{i}]: '{s}' is not a 'a b' pair");
                    merges.Add((s[..sp], s[(sp + 1)..]));
                }
                else if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() == 2 &&
                         e[0].ValueKind == JsonValueKind.String && e[1].ValueKind == JsonValueKind.String)
                    merges.Add((e[0].GetString()!, e[1].GetString()!));
                else throw new TokenizerLoadException($"{path}.merges[{i}]: expected \"a b\" or [\"a\",\"b\"]");
                i++;
            }
        }
        return new BpeModel(vocab, merges, OptString(m, "unk_token", path), OptString(m, "continuing_subword_prefix", path),
            OptString(m, "end_of_word_suffix", path), GetBool(m, "fuse_unk", path, false), GetBool(m, "byte_fallback", path, false),
            GetBool(m, "ignore_merges", path, false));
    }

    private static Normalizer ReadNormalizer(JsonElement n, string path) => TypeOf(n, path) switch
    {
        "NFC" => new UnicodeNormalizer(NormalizationForm.FormC),
        "NFD" => new UnicodeNormalizer(NormalizationForm.FormD),
        "NFKC" => new UnicodeNormalizer(NormalizationForm.FormKC),
        "NFKD" => new UnicodeNormalizer(NormalizationForm.FormKD),
        "Prepend" => new PrependNormalizer(GetString(n, "prepend", path)),
        "Replace" => ReadReplace(n, path),
        "Lowercase" => new LowercaseNormalizer(),
        "Strip" => new StripNormalizer(GetBool(n, "strip_left", path, true), GetBool(n, "strip_right", path, true)),
        "Sequence" => new SequenceNormalizer(ReadArray(n, "normalizers", path, ReadNormalizer)),
        var other => throw new TokenizerLoadException($"{path}: unknown type '{other}'"),
    };

    private static ReplaceNormalizer ReadReplace(JsonElement n, string path)
    {
        var (literal, regex) = ReadPattern(Required(n, "pattern", path), path + ".pattern");
        Regex? compiled = null;
        try { if (regex is not null) compiled = PatternTranslator.Compile(regex); }
        catch (ArgumentException e) { throw new TokenizerLoadException($"{path}.pattern: cannot compile regex: {e.Message}", e); }
        return new ReplaceNormalizer(literal, compiled, GetString(n, "content", path));
    }

    private static (string? Literal, string? Regex) ReadPattern(JsonElement p, string path)
    {
        if (p.ValueKind == JsonValueKind.Object)
        {
            if (p.TryGetProperty("String", out var s) && s.ValueKind == JsonValueKind.String) return (s.GetString(), null);
            if (p.TryGetProperty("Regex", out var r) && r.ValueKind == JsonValueKind.String) return (null, r.GetString());
        }
        throw new TokenizerLoadException($"{path}: expected {{\"String\": ...}} or {{\"Regex\": ...}}");
    }

    private static PreTokenizer ReadPreTokenizer(JsonElement p, string path)
    {
        switch (TypeOf(p, path))
        {
            case "Split":
            {
                var (literal, regex) = ReadPattern(Required(p, "pattern", path), path + ".pattern");
                IPatternMatcher matcher;
                try { matcher = literal is not null ? new LiteralMatcher(literal) : PatternMatchers.ForRegex(regex!); }
                catch (ArgumentException e) { throw new TokenizerLoadException($"{path}.pattern: cannot compile regex: {e.Message}", e); }
                string b = GetString(p, "behavior", path);
                if (!Enum.TryParse<SplitBehavior>(b, out var behavior)) throw new TokenizerLoadException($"{path}.behavior: unknown behavior '{b}'");
                return new SplitPreTokenizer(matcher, behavior, GetBool(p, "invert", path, false));
            }
            case "ByteLevel":
                return new ByteLevelPreTokenizer(GetBool(p, "add_prefix_space", path, true), GetBool(p, "use_regex", path, true));
            case "Metaspace":
                return new MetaspacePreTokenizer(ReadReplacementChar(p, path), ReadPrependScheme(p, path), GetBool(p, "split", path, true));
            case "Digits":
                return new DigitsPreTokenizer(GetBool(p, "individual_digits", path, false));
            case "Whitespace":
                return new WhitespacePreTokenizer(false);
            case "WhitespaceSplit":
                return new WhitespacePreTokenizer(true);
            case "Sequence":
                return new SequencePreTokenizer(ReadArray(p, "pretokenizers", path, ReadPreTokenizer));
            case var other:
                throw new TokenizerLoadException($"{path}: unknown type '{other}'");
        }
    }

    private static char ReadReplacementChar(JsonElement p, string path)
    {
        string r = GetString(p, "replacement", path);
        if (r.Length != 1) throw new TokenizerLoadException($"{path}.replacement: expected one char, got '{r}'");
        return r[0];
    }

    private static string ReadPrependScheme(JsonElement p, string path)
    {
        // Old files carry add_prefix_space instead of prepend_scheme.
        string? scheme = OptString(p, "prepend_scheme", path);
        if (scheme is null) return GetBool(p, "add_prefix_space", path, true) ? "always" : "never";
        if (scheme is not ("first" or "always" or "never")) throw new TokenizerLoadException($"{path}.prepend_scheme: unknown value '{scheme}'");
        return scheme;
    }

    private static Decoder ReadDecoder(JsonElement d, string path) => TypeOf(d, path) switch
    {
        "ByteLevel" => new ByteLevelDecoder(),
        "Replace" => new ReplaceDecoder(ReadReplace(d, path)),
        "ByteFallback" => new ByteFallbackDecoder(),
        "Fuse" => new FuseDecoder(),
        "Strip" => new StripDecoder(ReadStripContent(d, path), GetCount(d, "start", path), GetCount(d, "stop", path)),
        "Metaspace" => new MetaspaceDecoder(ReadReplacementChar(d, path), ReadPrependScheme(d, path)),
        "Sequence" => new SequenceDecoder(ReadArray(d, "decoders", path, ReadDecoder)),
        var other => throw new TokenizerLoadException($"{path}: unknown type '{other}'"),
    };

    private static PostProcessor ReadPostProcessor(JsonElement p, string path, int vocabSize)
    {
        switch (TypeOf(p, path))
        {
            case "ByteLevel":
                return new NoOpPostProcessor();
            case "Sequence":
                return new SequencePostProcessor(ReadArray(p, "processors", path, (e, ep) => ReadPostProcessor(e, ep, vocabSize)));
            case "TemplateProcessing":
            {
                var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
                if (p.TryGetProperty("special_tokens", out var st) && st.ValueKind != JsonValueKind.Null)
                {
                    if (st.ValueKind != JsonValueKind.Object) throw new TokenizerLoadException($"{path}.special_tokens: expected an object");
                    foreach (var kv in st.EnumerateObject())
                        specials[kv.Name] = ReadIds(kv.Value, $"{path}.special_tokens['{kv.Name}']", vocabSize);
                }
                var before = new List<int>();
                var after = new List<int>();
                bool seenA = false;
                var single = Required(p, "single", path);
                if (single.ValueKind != JsonValueKind.Array) throw new TokenizerLoadException($"{path}.single: expected an array");
                int i = 0;
                foreach (var piece in single.EnumerateArray())
                {
                    string pp = $"{path}.single[{i++}]";
                    if (piece.ValueKind != JsonValueKind.Object) throw new TokenizerLoadException($"{pp}: expected Sequence or SpecialToken");
                    if (piece.TryGetProperty("Sequence", out var seq))
                    {
                        string id = GetString(seq, "id", pp);
                        if (id != "A") throw new TokenizerLoadException($"{pp}: the single template may only use sequence A, found '{id}'");
                        seenA = true;
                    }
                    else if (piece.TryGetProperty("SpecialToken", out var sp))
                    {
                        string id = GetString(sp, "id", pp);
                        if (!specials.TryGetValue(id, out int[]? ids))
                            throw new TokenizerLoadException($"{pp}: special token '{id}' is missing from special_tokens");
                        (seenA ? after : before).AddRange(ids);
                    }
                    else throw new TokenizerLoadException($"{pp}: expected Sequence or SpecialToken");
                }
                return new TemplatePostProcessor(before.ToArray(), after.ToArray());
            }
            case "RobertaProcessing" or "BertProcessing":
            {
                int Tok(string name)
                {
                    var a = Required(p, name, path);
                    if (a.ValueKind != JsonValueKind.Array || a.GetArrayLength() != 2 || a[0].ValueKind != JsonValueKind.String)
                        throw new TokenizerLoadException($"{path}.{name}: expected [token, id]");
                    return Id(a[1], $"{path}.{name}[1]", vocabSize);
                }
                return new TemplatePostProcessor([Tok("cls")], [Tok("sep")]);
            }
            case var other:
                throw new TokenizerLoadException($"{path}: unknown type '{other}'");
        }
    }

    // A special token's "ids": every id must be one the tokenizer can produce, or every encode would emit a bad id.
    private static int[] ReadIds(JsonElement token, string path, int vocabSize)
    {
        var ids = Required(token, "ids", path);
        if (ids.ValueKind != JsonValueKind.Array) throw new TokenizerLoadException($"{path}.ids: expected an array of ids");
        var result = new int[ids.GetArrayLength()];
        int i = 0;
        foreach (var id in ids.EnumerateArray()) { result[i] = Id(id, $"{path}.ids[{i}]", vocabSize); i++; }
        return result;
    }

    private static int Id(JsonElement e, string path, int vocabSize) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int id) && id >= 0 && id < vocabSize ? id
        : throw new TokenizerLoadException($"{path}: {Raw(e)} is not an id of the vocabulary [0, {vocabSize})");

    private static string ReadStripContent(JsonElement d, string path)
    {
        // Rust's Strip decoder holds one char; an empty content would make the strip loops spin start/stop times per token.
        string c = GetString(d, "content", path);
        if (c.Length == 0 || c.Length > 2 || (c.Length == 2 && !char.IsSurrogatePair(c[0], c[1])))
            throw new TokenizerLoadException($"{path}.content: expected one character, got '{c}'");
        return c;
    }

    // ---- JSON helpers: each names the path in its error ----

    private static T[] ReadArray<T>(JsonElement e, string name, string path, Func<JsonElement, string, T> read)
    {
        var arr = Required(e, name, path);
        if (arr.ValueKind != JsonValueKind.Array) throw new TokenizerLoadException($"{path}.{name}: expected an array");
        var result = new T[arr.GetArrayLength()];
        int i = 0;
        foreach (var item in arr.EnumerateArray()) { result[i] = read(item, $"{path}.{name}[{i}]"); i++; }
        return result;
    }

    private static string TypeOf(JsonElement e, string path)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new TokenizerLoadException($"{path}: expected an object");
        if (!e.TryGetProperty("type", out var t) || t.ValueKind != JsonValueKind.String) throw new TokenizerLoadException($"{path}: missing 'type'");
        return t.GetString()!;
    }

    private static JsonElement? OptionalObject(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static JsonElement Required(JsonElement e, string name, string path)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            throw new TokenizerLoadException($"{path}: missing '{name}'");
        return v;
    }

    private static string GetString(JsonElement e, string name, string path)
    {
        var v = Required(e, name, path);
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new TokenizerLoadException($"{path}.{name}: expected a string");
    }

    private static string? OptString(JsonElement e, string name, string path)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw new TokenizerLoadException($"{path}.{name}: expected a string or null");
    }

    private static int GetInt(JsonElement e, string name, string path)
    {
        var v = Required(e, name, path);
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw new TokenizerLoadException($"{path}.{name}: expected an integer");
    }

    private static int GetCount(JsonElement e, string name, string path)
    {
        int i = GetInt(e, name, path);
        return i >= 0 ? i : throw new TokenizerLoadException($"{path}.{name}: expected a non-negative integer, got {i}");
    }

    private static int GetId(JsonElement e, string name, string path)
    {
        int id = GetInt(e, name, path);
        return id is >= 0 and < MaxVocabSize ? id : throw new TokenizerLoadException($"{path}.{name}: id {id} is outside [0, {MaxVocabSize})");
    }

    private static string Raw(JsonElement e)
    {
        string raw = e.GetRawText();
        return raw.Length <= 40 ? raw : raw[..40] + "…";
    }

    private static bool GetBool(JsonElement e, string name, string path, bool fallback)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new TokenizerLoadException($"{path}.{name}: expected true or false"),
        };
    }
}
