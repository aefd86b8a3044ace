using System.Text.Json;

namespace PagedAttention.Text.Tokenization;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> (BPE: byte-level as in Llama 3 / Qwen / GPT-2, or SentencePiece-style with
/// byte fallback as in Llama 2 / Mistral / Gemma) with the Rust <c>tokenizers</c> library's encode and decode results.
/// Thread-safe: one instance may encode and decode from many threads.
/// </summary>
public sealed class Tokenizer
{
    private readonly TokenizerPipeline _p;
    private readonly AddedTokenMatcher _rawMatcher;        // added tokens with normalized=false, matched on the input
    private readonly AddedTokenMatcher _normalizedMatcher; // normalized=true, matched after normalization
    private readonly Dictionary<int, AddedTokenInfo> _addedById = new();
    private readonly Dictionary<string, int> _addedByContent = new(StringComparer.Ordinal);
    private readonly HashSet<string> _specialContents = new(StringComparer.Ordinal);

    [ThreadStatic] private static EncodeScratch? t_scratch;

    // Byte-level fast path (GPT-2, Llama 3, Qwen): the pre-tokenizer is "split with this pattern (Isolated), then map
    // each piece's UTF-8 bytes to the byte-level alphabet". Pieces are then mapped into a reused char buffer and handed
    // to the model as spans, with no string per piece. Null for any other pre-tokenizer.
    private IPatternMatcher? _byteLevelSplitter;

    // SentencePiece-style fast path (Llama 2 / Mistral, Gemma): the normalizer is [Prepend(p),] Replace(one char c ->
    // content) and the pre-tokenizer is none, or a literal Split on c that can no longer match after the replace.
    // The model then sees p' + piece with c replaced, built in a reused char buffer instead of new strings.
    private SentencePieceFastPath? _spFast;

    private sealed record SentencePieceFastPath(string Prefix, char From, string To);

    private Tokenizer(TokenizerPipeline pipeline)
    {
        _p = pipeline;
        foreach (var t in pipeline.AddedTokens)
        {
            _addedById[t.Id] = t;
            _addedByContent[t.Content] = t.Id;
            if (t.Special) _specialContents.Add(t.Content);
        }
        _rawMatcher = new AddedTokenMatcher(pipeline.AddedTokens.Where(t => !t.Normalized).Select(t => (t.Content, t)));
        // Normalized tokens are looked for in normalized text, so their own content is normalized first.
        _normalizedMatcher = new AddedTokenMatcher(pipeline.AddedTokens.Where(t => t.Normalized)
            .Select(t => (pipeline.Normalizer?.Normalize(t.Content) ?? t.Content, t)));
        int max = pipeline.Model.IdToToken.Length - 1;
        foreach (var t in pipeline.AddedTokens) max = Math.Max(max, t.Id);
        VocabSize = max + 1;
        _byteLevelSplitter = pipeline.PreTokenizer switch
        {
            ByteLevelPreTokenizer { AddPrefixSpace: false, UseRegex: true } => ByteLevelPreTokenizer.Gpt2,
            SequencePreTokenizer
            {
                Items: [SplitPreTokenizer { Behavior: SplitBehavior.Isolated, Invert: false } split,
                        ByteLevelPreTokenizer { AddPrefixSpace: false, UseRegex: false }]
            } => split.Matcher,
            _ => null,
        };
        _spFast = DetectSentencePieceFastPath(pipeline);
    }

    /// <summary>Tests: encode through the general normalizer / pre-tokenizer pipeline only (call before sharing the instance).</summary>
    internal void DisableFastPaths()
    {
        _byteLevelSplitter = null;
        _spFast = null;
    }

    internal bool HasFastPath => _byteLevelSplitter is not null || _spFast is not null;

    private static SentencePieceFastPath? DetectSentencePieceFastPath(TokenizerPipeline p)
    {
        (PrependNormalizer? prepend, ReplaceNormalizer? replace) = p.Normalizer switch
        {
            ReplaceNormalizer r => ((PrependNormalizer?)null, r),
            SequenceNormalizer { Items: [PrependNormalizer pr, ReplaceNormalizer r] } => (pr, r),
            _ => (null, null),
        };
        if (replace?.Literal is not { Length: 1 } literal || replace.Content.Contains(literal[0])) return null;
        bool preTokenizerIsNoOp = p.PreTokenizer switch
        {
            null => true,
            // No match is left after the replace: every behaviour then yields the whole (non-empty) piece.
            SplitPreTokenizer { Invert: false, Matcher: LiteralMatcher { Literal: var l } } => l == literal,
            _ => false,
        };
        if (!preTokenizerIsNoOp || !p.AddedTokens.All(t => !t.Normalized)) return null;
        string prefix = prepend is null ? "" : prepend.Prepend.Replace(literal, replace.Content, StringComparison.Ordinal);
        return new SentencePieceFastPath(prefix, literal[0], replace.Content);
    }

    /// <summary>Number of ids: one more than the largest id of the model vocabulary or the added tokens.</summary>
    public int VocabSize { get; }

    /// <summary>The beginning-of-sequence token from tokenizer_config.json, when loaded from a directory that has one.</summary>
    public string? BosToken { get; private set; }

    /// <summary>The end-of-sequence token from tokenizer_config.json, when loaded from a directory that has one.</summary>
    public string? EosToken { get; private set; }

    /// <summary>The id of <see cref="BosToken"/>, or null.</summary>
    public int? BosTokenId => BosToken is null ? null : TokenToId(BosToken);

    /// <summary>The id of <see cref="EosToken"/>, or null.</summary>
    public int? EosTokenId => EosToken is null ? null : TokenToId(EosToken);

    /// <summary>
    /// The <c>chat_template</c> of tokenizer_config.json: the template text, or the raw JSON array when the config holds
    /// a list of named templates (<c>[{"name":..,"template":..}]</c>); null when absent.
    /// </summary>
    public string? ChatTemplate { get; private set; }

    /// <summary>Loads a tokenizer.json file, or a directory holding tokenizer.json and optionally tokenizer_config.json.</summary>
    /// <exception cref="TokenizerLoadException">
    /// The file is missing, too large, not a regular file, or one of its components cannot be read; the message and
    /// <see cref="TokenizerLoadException.FilePath"/> name the file, the message the JSON path.
    /// </exception>
    public static Tokenizer FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string file = path;
        string? config = null;
        if (Directory.Exists(path))
        {
            file = Path.Combine(path, "tokenizer.json");
            string c = Path.Combine(path, "tokenizer_config.json");
            if (File.Exists(c) || new FileInfo(c).LinkTarget is not null) config = c;
        }
        if (!File.Exists(file) && new FileInfo(file).LinkTarget is null) throw new TokenizerLoadException($"tokenizer.json not found: '{file}'");
        string current = file;
        try
        {
            var tok = FromBytes(TokenizerFiles.Read(file, TokenizerFiles.MaxTokenizerJsonBytes));
            if (config is not null)
            {
                current = config;
                tok.ReadConfig(TokenizerFiles.Read(config, TokenizerFiles.MaxConfigBytes));
            }
            return tok;
        }
        catch (TokenizerLoadException e) when (e.FilePath is null)
        {
            throw new TokenizerLoadException(e.Problem, current, e.InnerException);
        }
    }

    /// <summary>Loads a tokenizer from the UTF-8 JSON text of a tokenizer.json.</summary>
    /// <exception cref="TokenizerLoadException">The JSON is invalid or one of its components cannot be read.</exception>
    public static Tokenizer FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return FromBytes(System.Text.Encoding.UTF8.GetBytes(json));
    }

    private static Tokenizer FromBytes(ReadOnlyMemory<byte> json)
    {
        if (json.Span.StartsWith("\uFEFF"u8)) json = json[3..];
        // Names and strings are decoded lazily; invalid UTF-8 would surface later as InvalidOperationException.
        if (!System.Text.Unicode.Utf8.IsValid(json.Span)) throw new TokenizerLoadException("tokenizer.json: not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 }); }
        catch (JsonException e) { throw new TokenizerLoadException($"tokenizer.json: invalid JSON: {e.Message}", e); }
        using (doc)
        {
            try { return new Tokenizer(TokenizerJsonReader.Read(doc.RootElement)); }
            catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException or ArgumentException
                                          or KeyNotFoundException or IndexOutOfRangeException or InsufficientExecutionStackException)
            {
                // A last line of defence: every known case is checked where it is read, naming its JSON path.
                throw new TokenizerLoadException($"tokenizer.json: {e.Message}", e);
            }
        }
    }

    private void ReadConfig(byte[] bytes)
    {
        ReadOnlyMemory<byte> json = bytes;
        if (json.Span.StartsWith("\uFEFF"u8)) json = json[3..];
        if (!System.Text.Unicode.Utf8.IsValid(json.Span)) throw new TokenizerLoadException("tokenizer_config.json: not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new TokenizerLoadException($"tokenizer_config.json: invalid JSON: {e.Message}", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new TokenizerLoadException("tokenizer_config.json: the root is not a JSON object");
            BosToken = TokenContent(root, "bos_token");
            EosToken = TokenContent(root, "eos_token");
            ChatTemplate = ReadChatTemplate(root);
        }
    }

    // bos/eos are a string, null, or an AddedToken object with "content".
    private static string? TokenContent(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => throw new TokenizerLoadException($"{name}: expected a string or an object with a 'content' string"),
        };
    }

    // A template string, or a list of {"name", "template"} objects (kept as raw JSON for ChatTemplate.Parse(JsonNode)).
    private static string? ReadChatTemplate(JsonElement root)
    {
        if (!root.TryGetProperty("chat_template", out var ct) || ct.ValueKind == JsonValueKind.Null) return null;
        if (ct.ValueKind == JsonValueKind.String) return ct.GetString();
        if (ct.ValueKind != JsonValueKind.Array) throw new TokenizerLoadException("chat_template: expected a string or a list of {\"name\", \"template\"} objects");
        int i = 0;
        foreach (var entry in ct.EnumerateArray())
        {
            string path = $"chat_template[{i++}]";
            if (entry.ValueKind != JsonValueKind.Object) throw new TokenizerLoadException($"{path}: expected a {{\"name\", \"template\"}} object");
            foreach (var field in (ReadOnlySpan<string>)["name", "template"])
                if (!entry.TryGetProperty(field, out var f) || f.ValueKind != JsonValueKind.String)
                    throw new TokenizerLoadException($"{path}.{field}: expected a string");
        }
        return ct.GetRawText();
    }

    /// <summary>The id of a token (added tokens first, then the model vocabulary), or null when unknown.</summary>
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_addedByContent.TryGetValue(token, out int id)) return id;
        return _p.Model.TryGetId(token, out id) ? id : null;
    }

    /// <summary>The token string of an id (added tokens first, then the model vocabulary), or null when unknown.</summary>
    public string? IdToToken(int id)
    {
        if (_addedById.TryGetValue(id, out var t)) return t.Content;
        return (uint)id < (uint)_p.Model.IdToToken.Length ? _p.Model.IdToToken[id] : null;
    }

    /// <summary>True when <paramref name="id"/> is an added token (special or not): grammar masks keep these out of the vocabulary trie.</summary>
    internal bool IsAddedToken(int id) => _addedById.ContainsKey(id);

    /// <summary>
    /// The bytes a model-vocabulary token adds to the decoded text in the middle of a sequence (for grammar masks):
    /// byte-level tokens map back through the GPT-2 alphabet (possibly half a UTF-8 character), <c>&lt;0xNN&gt;</c>
    /// byte-fallback tokens are their byte, other tokens go through the decoder chain after an anchor so that
    /// first-token rules (Metaspace prefix, Strip of the leading space) do not apply. Null for unknown ids.
    /// </summary>
    internal byte[]? TokenBytes(int id)
    {
        string? t = IdToToken(id);
        if (t is null) return null;
        if (_p.Decoder is ByteLevelDecoder)
        {
            var bytes = new byte[t.Length];
            for (int i = 0; i < t.Length; i++)
            {
                int b = ByteLevelAlphabet.ToByte(t[i]);
                if (b < 0) return System.Text.Encoding.UTF8.GetBytes(t);
                bytes[i] = (byte)b;
            }
            return bytes;
        }
        if (_p.Model.ByteFallback && ByteFallbackDecoder.TryParseByte(t, out byte fb)) return [fb];
        if (_p.Decoder is null) return System.Text.Encoding.UTF8.GetBytes(t);
        const string anchor = "\u0001";
        string text = string.Concat(_p.Decoder.DecodeChain([anchor, t]));
        return System.Text.Encoding.UTF8.GetBytes(text.StartsWith(anchor, StringComparison.Ordinal) ? text[anchor.Length..] : text);
    }

    /// <summary>True when <paramref name="id"/> is an added token marked special (e.g. BOS, EOS, &lt;|im_end|&gt;).</summary>
    public bool IsSpecialToken(int id) => _addedById.TryGetValue(id, out var t) && t.Special;

    /// <summary>Encodes text to ids, as the Rust library's <c>encode(text, add_special_tokens)</c>.</summary>
    /// <param name="text">The text; added tokens inside it (e.g. "&lt;|im_start|&gt;") become their ids.</param>
    /// <param name="addSpecialTokens">Apply the post-processor template (e.g. prepend BOS).</param>
    public int[] Encode(string text, bool addSpecialTokens = true) => Encode(text, addSpecialTokens, []);

    /// <summary>
    /// Encodes text to ids like <see cref="Encode(string, bool)"/>, except that inside <paramref name="plainTextRanges"/>
    /// (sorted, non-overlapping (start, length) ranges of <paramref name="text"/>) the text of a <em>special</em> token is
    /// not turned into its id but encoded as ordinary text — transformers' <c>split_special_tokens</c> for those ranges.
    /// The chat client marks message contents this way, so that text a user typed cannot forge control tokens.
    /// </summary>
    public int[] Encode(string text, bool addSpecialTokens, ReadOnlySpan<(int Start, int Length)> plainTextRanges)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (int i = 0; i < plainTextRanges.Length; i++)
        {
            var (start, length) = plainTextRanges[i];
            if (start < 0 || length < 0 || start + length > text.Length || (i > 0 && start < plainTextRanges[i - 1].Start + plainTextRanges[i - 1].Length))
                throw new ArgumentException($"Plain-text range {i} ({start}, {length}) is outside the text or not sorted.", nameof(plainTextRanges));
        }
        var s = t_scratch ??= new EncodeScratch();
        s.Ids.Clear();
        EncodeInto(text, s, plainTextRanges);
        if (addSpecialTokens) _p.PostProcessor?.Process(s.Ids);
        return s.Ids.Span.ToArray();
    }

    /// <summary>The texts of the special added tokens (e.g. "&lt;|im_start|&gt;").</summary>
    internal IEnumerable<string> SpecialTokenTexts => _addedById.Values.Where(t => t.Special).Select(t => t.Content);

    private void EncodeInto(string text, EncodeScratch s, ReadOnlySpan<(int Start, int Length)> plainTextRanges = default)
    {
        var raw = s.RawSplits;
        raw.Clear();
        _rawMatcher.Split(text, raw, plainTextRanges);
        for (int r = 0; r < raw.Count; r++)
        {
            var (start, end, token) = raw[r];
            if (token is not null) { s.Ids.Add(token.Id); continue; }
            if (_p.Normalizer is null && _normalizedMatcher.IsEmpty) { EncodeText(text, start, end, start == 0, s); continue; }
            if (_spFast is not null) { EncodeSentencePiece(text.AsSpan(start, end - start), _spFast, s); continue; }
            if (_byteLevelSplitter is not null && _p.Normalizer is UnicodeNormalizer un && _normalizedMatcher.IsEmpty)
            {
                // Qwen: NFC into a per-thread buffer (or the input itself when already NFC), then the byte-level path.
                EncodeByteLevel(UnicodeNormalization.NormalizeToScratch(text.AsSpan(start, end - start), un.Form), _byteLevelSplitter, s);
                continue;
            }
            string piece = start == 0 && end == text.Length ? text : text[start..end];
            if (_p.Normalizer is not null) piece = _p.Normalizer.Normalize(piece);
            if (_normalizedMatcher.IsEmpty) { EncodeText(piece, 0, piece.Length, start == 0, s); continue; }
            var norm = s.NormSplits;
            norm.Clear();
            _normalizedMatcher.Split(piece, norm);
            foreach (var (ns, ne, nt) in norm)
            {
                if (nt is not null) s.Ids.Add(nt.Id);
                else EncodeText(piece, ns, ne, start == 0 && ns == 0, s);
            }
        }
    }

    /// <summary>Pre-tokenizes and encodes <c>text[start..end]</c>.</summary>
    private void EncodeText(string text, int start, int end, bool atStart, EncodeScratch s)
    {
        if (end <= start) return;
        ReadOnlySpan<char> span = text.AsSpan(start, end - start);
        if (_p.PreTokenizer is null) { _p.Model.Tokenize(span, s.Ids); return; }
        if (_byteLevelSplitter is not null) { EncodeByteLevel(span, _byteLevelSplitter, s); return; }
        string piece = start == 0 && end == text.Length ? text : text[start..end];
        var splits = s.Splits;
        splits.Clear();
        _p.PreTokenizer.Split(new PreSplit(piece, atStart), splits);
        foreach (var sp in splits) _p.Model.Tokenize(sp.Text, s.Ids);
    }

    // Same result as the normalizer (Prepend only when non-empty, then Replace) followed by the no-op pre-tokenizer.
    private void EncodeSentencePiece(ReadOnlySpan<char> piece, SentencePieceFastPath f, EncodeScratch s)
    {
        if (piece.IsEmpty) return;
        int max = f.Prefix.Length + piece.Length * Math.Max(1, f.To.Length);
        if (s.Chars.Length < max) s.Chars = new char[Math.Max(max, s.Chars.Length * 2)];
        Span<char> dst = s.Chars;
        f.Prefix.CopyTo(dst);
        int n = f.Prefix.Length;
        if (f.To.Length == 1)
        {
            piece.Replace(dst.Slice(n, piece.Length), f.From, f.To[0]);
            n += piece.Length;
        }
        else
        {
            foreach (char c in piece)
            {
                if (c != f.From) { dst[n++] = c; continue; }
                f.To.CopyTo(dst[n..]);
                n += f.To.Length;
            }
        }
        if (n == 0) return;
        if (f.To is [BpeModel.Metaspace]) _p.Model.TokenizeSegmented(dst[..n], s.Ids);
        else _p.Model.Tokenize(dst[..n], s.Ids);
    }

    // Same result as SplitPreTokenizer.Apply (Isolated, not inverted: gaps and matches in order, empty ones dropped)
    // followed by ByteLevelPreTokenizer.ToByteLevel on each piece.
    private void EncodeByteLevel(ReadOnlySpan<char> piece, IPatternMatcher matcher, EncodeScratch s)
    {
        var matches = s.Matches;
        matches.Clear();
        matcher.FindMatches(piece, matches);
        int prev = 0;
        foreach (var (start, end) in matches)
        {
            if (end == start) continue;
            if (prev != start) TokenizeByteLevel(piece.Slice(prev, start - prev), s);
            TokenizeByteLevel(piece.Slice(start, end - start), s);
            prev = end;
        }
        if (prev != piece.Length) TokenizeByteLevel(piece[prev..], s);
    }

    private void TokenizeByteLevel(ReadOnlySpan<char> word, EncodeScratch s)
    {
        char[] map = ByteLevelAlphabet.ByteToChar;
        int n;
        if (System.Text.Ascii.IsValid(word))
        {
            if (s.Chars.Length < word.Length) s.Chars = new char[Math.Max(word.Length, s.Chars.Length * 2)];
            Span<char> dst = s.Chars.AsSpan(0, word.Length);
            for (int i = 0; i < dst.Length; i++) dst[i] = map[word[i]];
            n = word.Length;
        }
        else
        {
            int max = System.Text.Encoding.UTF8.GetMaxByteCount(word.Length);
            if (s.Bytes.Length < max) s.Bytes = new byte[Math.Max(max, s.Bytes.Length * 2)];
            n = System.Text.Encoding.UTF8.GetBytes(word, s.Bytes);
            if (s.Chars.Length < n) s.Chars = new char[Math.Max(n, s.Chars.Length * 2)];
            Span<char> dst = s.Chars.AsSpan(0, n);
            ReadOnlySpan<byte> src = s.Bytes.AsSpan(0, n);
            for (int i = 0; i < dst.Length; i++) dst[i] = map[src[i]];
        }
        _p.Model.Tokenize(s.Chars.AsSpan(0, n), s.Ids);
    }

    /// <summary>Decodes ids to text, as the Rust library's <c>decode(ids, skip_special_tokens)</c>. Unknown ids are ignored.</summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var tokens = new List<string>(ids.Length);
        foreach (int id in ids)
        {
            string? t = IdToToken(id);
            if (t is null || (skipSpecialTokens && _specialContents.Contains(t))) continue;
            tokens.Add(t);
        }
        if (_p.Decoder is null) return string.Join(' ', tokens);
        return string.Concat(_p.Decoder.DecodeChain(tokens));
    }

    /// <summary>Creates an incremental detokenizer for one generated sequence.</summary>
    public StreamingDecoder CreateDecoder(bool skipSpecialTokens = false) => new(this, skipSpecialTokens);

    /// <summary>True when decoding this id alone contributes tokens to the decoder (known and not skipped).</summary>
    internal bool ContributesText(int id, bool skipSpecialTokens)
    {
        string? t = IdToToken(id);
        return t is not null && t.Length > 0 && !(skipSpecialTokens && _specialContents.Contains(t));
    }

    private sealed class EncodeScratch
    {
        public readonly IdBuffer Ids = new();
        public readonly List<(int, int, AddedTokenInfo?)> RawSplits = new();
        public readonly List<(int, int, AddedTokenInfo?)> NormSplits = new();
        public readonly List<PreSplit> Splits = new();
        public readonly List<(int Start, int End)> Matches = new();
        public char[] Chars = new char[256];
        public byte[] Bytes = new byte[1024];
    }
}
