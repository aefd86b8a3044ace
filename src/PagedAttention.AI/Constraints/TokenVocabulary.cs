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

    private TokenVocabulary(byte[][] bytes, int[] eos, TokenTrie trie, string key)
    {
        _bytes = bytes;
        EosTokens = eos;
        Trie = trie;
        Key = key;
    }

    /// <summary>Number of token ids (the mask covers ceil(Size/32) words).</summary>
    public int Size => _bytes.Length;

    public int MaskWords => (Size + 31) / 32;

    public int[] EosTokens { get; }

    public TokenTrie Trie { get; }

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
        return new TokenVocabulary(bytes, eosTokens, TokenTrie.Build(tokens), key);
    }
}
