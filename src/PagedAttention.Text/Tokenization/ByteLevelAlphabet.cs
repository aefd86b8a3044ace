namespace PagedAttention.Text.Tokenization;

/// <summary>
/// GPT-2's reversible byte-to-printable-char table: bytes that are printable Latin-1 map to themselves,
/// the other 68 bytes map to U+0100.. in order. Shared by the ByteLevel pre-tokenizer and decoder.
/// </summary>
internal static class ByteLevelAlphabet
{
    public static readonly char[] ByteToChar = Build();
    public static readonly short[] CharToByte = BuildReverse(ByteToChar);

    private static char[] Build()
    {
        var map = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + n++);
        }
        return map;
    }

    private static short[] BuildReverse(char[] forward)
    {
        var rev = new short[324];
        Array.Fill(rev, (short)-1);
        for (int b = 0; b < 256; b++) rev[forward[b]] = (short)b;
        return rev;
    }

    /// <summary>Byte for a byte-level char, or -1 when the char is not part of the alphabet.</summary>
    public static int ToByte(char c) => c < CharToByte.Length ? CharToByte[c] : -1;
}
