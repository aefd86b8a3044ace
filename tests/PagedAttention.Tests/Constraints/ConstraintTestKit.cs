using System.Text;
using PagedAttention.AI.Constraints;

namespace PagedAttention.Tests.Constraints;

internal static class ConstraintTestKit
{
    /// <summary>256 single-byte tokens, a few multi-byte ones (spanning lexemes, half a UTF-8 char), and EOS = last id.</summary>
    public static readonly Lazy<TokenVocabulary> ByteVocab = new(() =>
    {
        var list = new List<byte[]>();
        for (int b = 0; b < 256; b++) list.Add([(byte)b]);
        foreach (string s in (string[])["\":", "\",", "\"}", "{\"", "true", "null", "  ", "    ", "\n  ", "ab", "abc", "12", "},{", "é", "😀"])
            list.Add(Encoding.UTF8.GetBytes(s));
        list.Add([0xF0, 0x9F]); // half an emoji
        list.Add([]); // EOS
        return TokenVocabulary.FromBytes([.. list], [list.Count - 1]);
    });

    public static int Eos => ByteVocab.Value.EosTokens[0];

    public static CompiledGrammar Compile(Grammar g) => CompiledGrammar.Create(g, ByteVocab.Value);

    /// <summary>Feeds the UTF-8 of <paramref name="text"/> byte by byte; true when every byte is accepted and the end is accepting.</summary>
    public static bool AcceptsBytes(CompiledGrammar g, string text) => AcceptsBytes(g, Encoding.UTF8.GetBytes(text));

    public static bool AcceptsBytes(CompiledGrammar g, byte[] bytes)
    {
        var m = g.CreateMatcher();
        foreach (byte b in bytes) if (!m.TryConsumeBytes([b])) return false;
        return m.IsAccepting;
    }

    public static bool AcceptsTokens(CompiledGrammar g, IEnumerable<int> tokens)
    {
        var m = g.CreateMatcher();
        foreach (int t in tokens) if (!m.TryConsume(t)) return false;
        return m.IsAccepting;
    }

    public static uint[] Mask(TokenMatcher m)
    {
        var w = new uint[m.MaskWords];
        m.ComputeMask(w);
        return w;
    }

    public static bool Allowed(uint[] mask, int token) => (mask[token >> 5] & (1u << (token & 31))) != 0;

    /// <summary>
    /// The slow reference: for each token, feed its bytes one by one from the current state (all-or-nothing, so the
    /// state is restored), no trie and no cached scans.
    /// </summary>
    public static uint[] OracleMask(TokenMatcher m)
    {
        var v = m.Grammar.Vocabulary;
        var w = new uint[m.MaskWords];
        bool accepting = m.IsAccepting;
        for (int t = 0; t < v.Size; t++)
        {
            bool ok;
            if (v.EosTokens.Contains(t)) ok = accepting;
            else
            {
                var bytes = v.TokenBytes(t);
                if (bytes.IsEmpty) continue;
                ok = m.CanConsumeBytes(bytes);
            }
            if (ok) w[t >> 5] |= 1u << (t & 31);
        }
        return w;
    }
}
