using PagedAttention.Text.Tokenization;

namespace PagedAttention.AI.Constraints;

/// <summary>
/// A tokenizer's vocabulary as grammars see it: each model token's raw bytes (<see cref="Tokenizer.TokenBytes"/>),
/// the trie of them, and the end-of-sequence ids. Added tokens (special or not, e.g. <c>&lt;|im_end|&gt;</c>,
/// <c>&lt;think&gt;</c>) are not in the trie, so a grammar never allows them; the EOS ids are allowed exactly when the
/// grammar can end. Built once per tokenizer (≈100 ms for 150k tokens) and shared by every grammar compiled for it.
/// </summary>
internal sealed class TokenVocabulary
{
    private readonly byte[][] _bytes;

    /// <summary>Character-count bounds of the bounded slices (see <see cref="BoundedSlices"/>), ascending.</summary>
    public static readonly int[] SliceBounds = [4, 8, 16, 32];

    /// <summary>Character-count bounds of the word slices (see <see cref="WordSlices"/>), ascending; 127 = "any".</summary>
    public static readonly int[] WordBounds = [8, 16, 127];

    private TokenVocabulary(byte[][] bytes, int[] eos, TokenTrie trie, TokenTrie rest, uint[] slice,
        (uint[] Mask, TokenTrie Others)[] bounded, (uint[] Mask, TokenTrie Others)[] words, uint[][] upTo,
        uint[][] stringUpTo, TokenTrie quoteTrie, string key)
    {
        PlainUpTo = upTo;
        StringUpTo = stringUpTo;
        QuoteTrie = quoteTrie;
        WordSlices = words;
        BoundedSlices = bounded;
        _bytes = bytes;
        EosTokens = eos;
        Trie = trie;
        RestTrie = rest;
        SliceMask = slice;
        Key = key;
    }

    /// <summary>Number of token ids (the mask covers ceil(Size/32) words).</summary>
    public int Size => _bytes.Length;

    public int MaskWords => (Size + 31) / 32;

    public int[] EosTokens { get; }

    public TokenTrie Trie { get; }

    /// <summary>
    /// The slicer (llguidance's idea, one slice): tokens made only of whole characters that stand raw inside a JSON
    /// string (no '"', '\\', control or partial UTF-8), as a mask. Where the lexer state loops on every such
    /// character (inside an unconstrained string) all of them are allowed at once: the mask is copied and only
    /// <see cref="RestTrie"/>, the other tokens, is walked.
    /// </summary>
    public uint[] SliceMask { get; }

    /// <summary>The trie of the tokens not in <see cref="SliceMask"/>.</summary>
    public TokenTrie RestTrie { get; }

    /// <summary>
    /// For each of <see cref="SliceBounds"/>: the slice's tokens of at most that many characters, and the trie of all
    /// other tokens. Used where the lexer counts (e.g. maxLength) but any plain text that short is still allowed.
    /// </summary>
    public (uint[] Mask, TokenTrie Others)[] BoundedSlices { get; }

    /// <summary>
    /// For each of <see cref="WordBounds"/>: the tokens made only of ASCII letters and digits, at most that many, and
    /// the trie of all other tokens. Used where a pattern or format repeats a class holding every letter and digit
    /// (paths, e-mail addresses, identifiers) and plain text in general is not allowed.
    /// </summary>
    public (uint[] Mask, TokenTrie Others)[] WordSlices { get; }

    /// <summary>
    /// PlainUpTo[n] (n = 1..<see cref="LexerDfa.MaxPlainDepth"/>): the slice's tokens of at most n characters. Where
    /// exactly the plain texts of at most n characters are allowed (a <c>maxLength</c> string with n left), the mask
    /// is this one plus a walk of <see cref="RestTrie"/> alone.
    /// </summary>
    public uint[][] PlainUpTo { get; }

    /// <summary>
    /// StringUpTo[n] (n = 0..<see cref="LexerDfa.MaxPlainDepth"/>): every token that, read from the start of a
    /// JSON string's inside (at a character boundary), stays inside the string as valid text — plain characters,
    /// escapes, a partial escape or UTF-8 character at its end — and starts at most n characters. Where the lexer is
    /// exactly "string text with n characters of room, then the closing quote" (a free or maxLength string value),
    /// these are the allowed tokens that do not close the string; only <see cref="QuoteTrie"/> is walked. Built once
    /// per tokenizer: this is the mask inside an unconstrained string, shared by every grammar.
    /// </summary>
    public uint[][] StringUpTo { get; }

    /// <summary>
    /// The tokens <see cref="StringUpTo"/> cannot decide: those that close a string (an unescaped '"'), and valid
    /// string text starting more than <see cref="LexerDfa.MaxPlainDepth"/> characters. Invalid string text is in
    /// neither (never allowed inside a string).
    /// </summary>
    public TokenTrie QuoteTrie { get; }

    /// <summary>Identifies the vocabulary for the compiled-grammar cache (bytes and EOS ids hashed).</summary>
    public string Key { get; }

    /// <summary>The bytes of a token; empty for added tokens and EOS (they are not text).</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) => (uint)id < (uint)_bytes.Length ? _bytes[id] : [];

    /// <summary>From a tokenizer; <paramref name="eosTokens"/> defaults to the tokenizer's EOS token.</summary>
    public static TokenVocabulary FromTokenizer(Tokenizer tokenizer, IEnumerable<int>? eosTokens = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        int v = tokenizer.VocabSize;
        var bytes = new byte[v][];
        for (int id = 0; id < v; id++)
            bytes[id] = tokenizer.IsAddedToken(id) ? [] : tokenizer.TokenBytes(id) ?? [];
        int[] eos = (eosTokens ?? (tokenizer.EosTokenId is { } e ? [e] : [])).Distinct().Order().ToArray();
        return FromBytes(bytes, eos);
    }

    /// <summary>From explicit token bytes (tests, synthetic vocabularies). Empty entries are never allowed.</summary>
    public static TokenVocabulary FromBytes(byte[][] bytes, int[] eosTokens)
    {
        foreach (int e in eosTokens)
        {
            if ((uint)e >= (uint)bytes.Length) throw new ArgumentOutOfRangeException(nameof(eosTokens), $"EOS id {e} outside the vocabulary");
            bytes[e] = [];
        }
        var tokens = new List<(int, byte[])>(bytes.Length);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        for (int id = 0; id < bytes.Length; id++)
        {
            tokens.Add((id, bytes[id]));
            hash.AppendData(BitConverter.GetBytes(bytes[id].Length));
            hash.AppendData(bytes[id]);
        }
        foreach (int e in eosTokens) hash.AppendData(BitConverter.GetBytes(e));
        string key = $"{bytes.Length}:{Convert.ToHexString(hash.GetHashAndReset())}";
        int words = (bytes.Length + 31) / 32;
        var slice = new uint[words];
        var rest = new List<(int, byte[])>(bytes.Length / 4);
        var bounded = SliceBounds.Select(_ => (Mask: new uint[words], Others: new List<(int, byte[])>())).ToArray();
        var wordSlices = WordBounds.Select(_ => (Mask: new uint[words], Others: new List<(int, byte[])>())).ToArray();
        var upTo = new uint[LexerDfa.MaxPlainDepth + 1][];
        for (int n = 0; n < upTo.Length; n++) upTo[n] = new uint[words];
        var stringUpTo = new uint[LexerDfa.MaxPlainDepth + 1][];
        for (int n = 0; n < stringUpTo.Length; n++) stringUpTo[n] = new uint[words];
        var quote = new List<(int, byte[])>();
        foreach (var (id, b) in tokens)
        {
            if (b.Length > 0)
            {
                int started = StringTextChars(b);
                if (started == Closes || started > LexerDfa.MaxPlainDepth) quote.Add((id, b));
                else if (started > 0)
                    for (int n = started; n < stringUpTo.Length; n++) stringUpTo[n][id >> 5] |= 1u << (id & 31);
            }
            int chars = b.Length > 0 && IsPlainStringText(b) ? System.Text.Encoding.UTF8.GetCharCount(b) : -1;
            if (chars > 0)
            {
                slice[id >> 5] |= 1u << (id & 31);
                int runes = RuneCount(b);
                for (int n = runes; n < upTo.Length; n++) upTo[n][id >> 5] |= 1u << (id & 31);
            }
            else rest.Add((id, b));
            for (int k = 0; k < SliceBounds.Length; k++)
            {
                if (chars > 0 && System.Text.Unicode.Utf8.IsValid(b) && RuneCount(b) <= SliceBounds[k]) bounded[k].Mask[id >> 5] |= 1u << (id & 31);
                else bounded[k].Others.Add((id, b));
            }
            bool word = b.Length > 0 && b.AsSpan().IndexOfAnyExcept(WordByteValues) < 0;
            for (int k = 0; k < WordBounds.Length; k++)
            {
                if (word && b.Length <= WordBounds[k]) wordSlices[k].Mask[id >> 5] |= 1u << (id & 31);
                else wordSlices[k].Others.Add((id, b));
            }
        }
        return new TokenVocabulary(bytes, eosTokens, TokenTrie.Build(tokens), TokenTrie.Build(rest), slice,
            bounded.Select(x => (x.Mask, TokenTrie.Build(x.Others))).ToArray(),
            wordSlices.Select(x => (x.Mask, TokenTrie.Build(x.Others))).ToArray(), upTo, stringUpTo, TokenTrie.Build(quote), key);
    }

    private const int Closes = -2;

    // Reads the bytes as the inside of a JSON string from a character boundary (the language of JsonChar*): the
    // number of characters started (a partial escape or UTF-8 character at the end counts), -1 when the bytes are not
    // valid string text, Closes when an unescaped '"' ends the string inside the token.
    private static int StringTextChars(ReadOnlySpan<byte> bytes)
    {
        int n = 0, escape = 0, left = 0, lo = 0, hi = 0; // escape: 0 none, 1 after '\', 2..5 after "\u" and 0..3 hex digits
        foreach (byte c in bytes)
        {
            if (left > 0)
            {
                if (c < lo || c > hi) return -1;
                left--;
                lo = 0x80; hi = 0xBF;
                continue;
            }
            if (escape == 1)
            {
                if (c == 'u') escape = 2;
                else if ("\"\\/bfnrt"u8.IndexOf(c) >= 0) escape = 0;
                else return -1;
                continue;
            }
            if (escape >= 2)
            {
                if (!char.IsAsciiHexDigit((char)c)) return -1;
                escape = escape == 5 ? 0 : escape + 1;
                continue;
            }
            if (c == '"') return Closes;
            n++;
            if (c == '\\') { escape = 1; continue; }
            if (c < 0x20) return -1;
            if (c < 0x80) continue;
            (left, lo, hi) = c switch
            {
                >= 0xC2 and <= 0xDF => (1, 0x80, 0xBF),
                0xE0 => (2, 0xA0, 0xBF),
                0xED => (2, 0x80, 0x9F),
                >= 0xE1 and <= 0xEF => (2, 0x80, 0xBF),
                0xF0 => (3, 0x90, 0xBF),
                >= 0xF1 and <= 0xF3 => (3, 0x80, 0xBF),
                0xF4 => (3, 0x80, 0x8F),
                _ => (-1, 0, 0),
            };
            if (left < 0) return -1;
        }
        return n;
    }

    private static readonly System.Buffers.SearchValues<byte> WordByteValues =
        System.Buffers.SearchValues.Create("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    private static int RuneCount(ReadOnlySpan<byte> b)
    {
        int n = 0;
        while (!b.IsEmpty) { System.Text.Rune.DecodeFromUtf8(b, out _, out int len); b = b[len..]; n++; }
        return n;
    }

    // Whole UTF-8 characters, each >= U+0020 and neither '"' nor '\'.
    private static bool IsPlainStringText(ReadOnlySpan<byte> b)
    {
        while (!b.IsEmpty)
        {
            if (System.Text.Rune.DecodeFromUtf8(b, out var r, out int n) != System.Buffers.OperationStatus.Done) return false;
            if (r.Value < 0x20 || r.Value == '"' || r.Value == '\\') return false;
            b = b[n..];
        }
        return true;
    }
}
