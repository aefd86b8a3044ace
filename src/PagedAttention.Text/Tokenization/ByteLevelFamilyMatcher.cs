using System.Globalization;
using System.Text;

namespace PagedAttention.Text.Tokenization;

/// <summary>
/// Hand-written equivalents of the three split regexes that nearly every byte-level tokenizer uses (GPT-2,
/// Llama 3 / cl100k, Qwen2/3). They walk code points, so a supplementary-plane letter or digit is <c>\p{L}</c> /
/// <c>\p{N}</c> as in the Rust library (the .NET regex sees two surrogates there), and they are several times faster.
/// Each branch below is one alternative of the pattern, tried in the pattern's order.
/// </summary>
internal sealed class ByteLevelFamilyMatcher : IPatternMatcher
{
    public const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string QwenPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private readonly bool _llamaStyle;  // Llama 3 / Qwen shape; otherwise GPT-2
    private readonly int _maxDigits;    // \p{N}{1,3}, \p{N}, or unbounded (GPT-2's ' ?\p{N}+')

    private ByteLevelFamilyMatcher(bool llamaStyle, int maxDigits)
    {
        _llamaStyle = llamaStyle;
        _maxDigits = maxDigits;
    }

    /// <summary>The hand-written matcher for <paramref name="pattern"/>, or null when it is not one of the known three.</summary>
    public static ByteLevelFamilyMatcher? TryCreate(string pattern) => pattern switch
    {
        Llama3Pattern => new ByteLevelFamilyMatcher(true, 3),
        QwenPattern => new ByteLevelFamilyMatcher(true, 1),
        PatternMatchers.Gpt2Pattern => new ByteLevelFamilyMatcher(false, int.MaxValue),
        _ => null,
    };

    private enum Kind : byte { Letter, Number, Space, Other }

    private static Kind KindAt(ReadOnlySpan<char> s, int i, out int width)
    {
        char c = s[i];
        width = 1;
        if (c < 128)
        {
            if (char.IsAsciiLetter(c)) return Kind.Letter;
            if (char.IsAsciiDigit(c)) return Kind.Number;
            return c is ' ' or '\t' or '\n' or '\r' or '\v' or '\f' ? Kind.Space : Kind.Other;
        }
        Rune r;
        if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { r = new Rune(c, s[i + 1]); width = 2; }
        else if (char.IsSurrogate(c)) return Kind.Other;
        else r = new Rune(c);
        var cat = Rune.GetUnicodeCategory(r);
        if (cat <= UnicodeCategory.OtherLetter) return Kind.Letter; // Lu, Ll, Lt, Lm, Lo
        if (cat is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber) return Kind.Number;
        return Rune.IsWhiteSpace(r) ? Kind.Space : Kind.Other;
    }

    public void FindMatches(ReadOnlySpan<char> s, List<(int Start, int End)> matches)
    {
        int i = 0;
        while (i < s.Length)
        {
            int end = Match(s, i);
            matches.Add((i, end));
            i = end;
        }
    }

    private int Skip(ReadOnlySpan<char> s, int i, Kind kind, int max = int.MaxValue)
    {
        int n = 0;
        while (i < s.Length && n < max && KindAt(s, i, out int w) == kind) { i += w; n++; }
        return i;
    }

    private int SkipOther(ReadOnlySpan<char> s, int i)
    {
        while (i < s.Length && KindAt(s, i, out int w) == Kind.Other) i += w;
        return i;
    }

    private int Match(ReadOnlySpan<char> s, int i)
    {
        // 'contractions (case-insensitive in the Llama 3 / Qwen patterns)
        if (s[i] == '\'' && i + 1 < s.Length)
        {
            char a = _llamaStyle ? char.ToLowerInvariant(s[i + 1]) : s[i + 1];
            char b = i + 2 < s.Length ? (_llamaStyle ? char.ToLowerInvariant(s[i + 2]) : s[i + 2]) : '\0';
            if (a is 's' or 't' or 'm' or 'd') return i + 2;
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
        }
        Kind k = KindAt(s, i, out int w);
        if (_llamaStyle)
        {
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if (k == Kind.Letter) return Skip(s, i, Kind.Letter);
            if (k != Kind.Number && s[i] != '\r' && s[i] != '\n' && i + w < s.Length && KindAt(s, i + w, out _) == Kind.Letter)
                return Skip(s, i + w, Kind.Letter);
            // \p{N}{1,3} | \p{N}
            if (k == Kind.Number) return Skip(s, i, Kind.Number, _maxDigits);
            // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
            int j = s[i] == ' ' ? i + 1 : i;
            if (j < s.Length && KindAt(s, j, out _) == Kind.Other)
            {
                j = SkipOther(s, j);
                while (j < s.Length && s[j] is '\r' or '\n') j++;
                return j;
            }
            // \s*[\r\n]+ : up to the last \r or \n of the whitespace run
            int e = Skip(s, i, Kind.Space);
            for (int q = e - 1; q >= i; q--)
                if (s[q] is '\r' or '\n') return q + 1;
            return SpaceRun(s, i, e);
        }
        // GPT-2: ' ?\p{L}+' | ' ?\p{N}+' | ' ?[^\s\p{L}\p{N}]+'
        int t = i;
        Kind kt = k;
        if (s[i] == ' ' && i + 1 < s.Length) { kt = KindAt(s, i + 1, out _); t = i + 1; }
        if (kt == Kind.Letter) return Skip(s, t, Kind.Letter);
        if (kt == Kind.Number) return Skip(s, t, Kind.Number);
        if (kt == Kind.Other) return SkipOther(s, t);
        return SpaceRun(s, i, Skip(s, i, Kind.Space));
    }

    // \s+(?!\S) | \s+ over the whitespace run [i, e).
    private static int SpaceRun(ReadOnlySpan<char> s, int i, int e)
    {
        if (e == i) return i + (char.IsHighSurrogate(s[i]) && i + 1 < s.Length ? 2 : 1); // not reached for valid input
        if (e == s.Length || e - i == 1) return e;
        return e - 1; // leave the last space to prefix the next word
    }
}
