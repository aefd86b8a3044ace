using System.Text;

namespace PagedAttention.Text.Tokenization;

/// <summary>A tokenizer.json decoder: Rust's <c>decode_chain</c>, a list of token strings to a list of strings that are then concatenated.</summary>
internal abstract class Decoder
{
    public abstract List<string> DecodeChain(List<string> tokens);
}

/// <summary>ByteLevel: a token whose chars are all in the alphabet becomes its bytes, any other token its own UTF-8;
/// the whole byte string is then decoded lossily (one U+FFFD per maximal invalid subsequence, as Rust's from_utf8_lossy).</summary>
internal sealed class ByteLevelDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>(tokens.Count * 4);
        foreach (string t in tokens)
        {
            bool all = true;
            foreach (char c in t) if (ByteLevelAlphabet.ToByte(c) < 0) { all = false; break; }
            if (all) foreach (char c in t) bytes.Add((byte)ByteLevelAlphabet.ToByte(c));
            else bytes.AddRange(Encoding.UTF8.GetBytes(t));
        }
        return [Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes))];
    }
}

internal sealed class ReplaceDecoder(ReplaceNormalizer replace) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++) tokens[i] = replace.Normalize(tokens[i]);
        return tokens;
    }
}

/// <summary>ByteFallback: runs of &lt;0xXX&gt; tokens become their UTF-8 text, or one U+FFFD per byte when invalid.</summary>
internal sealed class ByteFallbackDecoder : Decoder
{
    private static readonly UTF8Encoding Strict = new(false, true);

    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var pending = new List<byte>();
        foreach (string t in tokens)
        {
            if (TryParseByte(t, out byte b)) { pending.Add(b); continue; }
            Flush(pending, result);
            result.Add(t);
        }
        Flush(pending, result);
        return result;
    }

    public static bool TryParseByte(string t, out byte b)
    {
        b = 0;
        return t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal) && t[5] == '>'
            && byte.TryParse(t.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out b);
    }

    private static void Flush(List<byte> pending, List<string> result)
    {
        if (pending.Count == 0) return;
        try { result.Add(Strict.GetString(pending.ToArray())); }
        catch (DecoderFallbackException) { for (int i = 0; i < pending.Count; i++) result.Add("\uFFFD"); }
        pending.Clear();
    }
}

internal sealed class FuseDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary>Strip: removes up to <c>start</c> leading and <c>stop</c> trailing occurrences of one char from each token.</summary>
internal sealed class StripDecoder(string content, int start, int stop) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i];
            int a = 0, n = 0;
            while (n < start && a < t.Length && t.AsSpan(a).StartsWith(content, StringComparison.Ordinal)) { a += content.Length; n++; }
            int z = t.Length; n = 0;
            while (n < stop && z - content.Length >= a && t.AsSpan(0, z).EndsWith(content, StringComparison.Ordinal)) { z -= content.Length; n++; }
            tokens[i] = t[a..z];
        }
        return tokens;
    }
}

/// <summary>Metaspace decoder: the replacement char becomes a space, except in the first token when a prefix was prepended.</summary>
internal sealed class MetaspaceDecoder(char replacement, string prependScheme) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        for (int i = 0; i < tokens.Count; i++)
            tokens[i] = i == 0 && prependScheme != "never"
                ? tokens[i].Replace(replacement.ToString(), "", StringComparison.Ordinal)
                : tokens[i].Replace(replacement, ' ');
        return tokens;
    }
}

internal sealed class SequenceDecoder(Decoder[] items) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        foreach (var d in items) tokens = d.DecodeChain(tokens);
        return tokens;
    }
}
