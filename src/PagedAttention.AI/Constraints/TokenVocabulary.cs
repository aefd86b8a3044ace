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
        (uint[] Mask, TokenTrie Others)[] bounded, (uint[] Mask, TokenTrie Others)[] words, string key)
    {
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
        foreach (var (id, b) in tokens)
        {
            int chars = b.Length > 0 && IsPlainStringText(b) ? System.Text.Encoding.UTF8.GetCharCount(b) : -1;
            if (chars > 0) slice[id >> 5] |= 1u << (id & 31);
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
            wordSlices.Select(x => (x.Mask, TokenTrie.Build(x.Others))).ToArray(), key);
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
