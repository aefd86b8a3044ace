using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace PagedAttention.Text.Tokenization;

/// <summary>
/// Translates the Oniguruma patterns found in tokenizer.json files into .NET regex syntax.
/// .NET's <c>\s</c> (<c>[\f\n\r\t\v\x85\p{Z}]</c>) already equals Unicode White_Space, and <c>\p{L}</c>/<c>\p{N}</c>
/// are the same categories, so the work left is syntax .NET lacks: possessive quantifiers
/// (<c>X++</c> becomes the atomic group <c>(?&gt;X+)</c>) and <c>\x{HHHH}</c> escapes.
/// Known remaining difference: .NET matches UTF-16 units, so a supplementary-plane letter is not <c>\p{L}</c>
/// here (see docs/tokenizer.md); the hand-written splitters avoid that for the common patterns.
/// </summary>
internal static class PatternTranslator
{
    public static Regex Compile(string onigPattern)
    {
        string net = Translate(onigPattern);
        return new Regex(net, RegexOptions.CultureInvariant | RegexOptions.Compiled);
    }

    public static string Translate(string p)
    {
        var sb = new StringBuilder(p.Length + 16);
        int lastAtomStart = -1;
        var groupStarts = new Stack<int>();
        for (int i = 0; i < p.Length; i++)
        {
            char c = p[i];
            switch (c)
            {
                case '\\':
                {
                    int start = sb.Length;
                    if (i + 1 < p.Length && p[i + 1] == 'x' && i + 2 < p.Length && p[i + 2] == '{')
                    {
                        int close = p.IndexOf('}', i + 3);
                        int cp = int.Parse(p.AsSpan(i + 3, close - i - 3), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                        AppendCodePoint(sb, cp);
                        i = close;
                    }
                    else
                    {
                        int len = EscapeLength(p, i);
                        sb.Append(p, i, len);
                        i += len - 1;
                    }
                    lastAtomStart = start;
                    break;
                }
                case '[':
                {
                    int start = sb.Length;
                    int end = ClassEnd(p, i);
                    sb.Append(p, i, end - i + 1);
                    i = end;
                    lastAtomStart = start;
                    break;
                }
                case '(':
                    groupStarts.Push(sb.Length);
                    sb.Append(c);
                    lastAtomStart = -1;
                    break;
                case ')':
                    sb.Append(c);
                    lastAtomStart = groupStarts.Count > 0 ? groupStarts.Pop() : -1;
                    break;
                case '*' or '+' or '?' or '{':
                {
                    int qEnd = i;
                    if (c == '{')
                    {
                        int close = p.IndexOf('}', i);
                        if (close < 0 || !IsCountedQuantifier(p.AsSpan(i + 1, close - i - 1))) { sb.Append(c); lastAtomStart = sb.Length - 1; break; }
                        qEnd = close;
                    }
                    string quant = p.Substring(i, qEnd - i + 1);
                    i = qEnd;
                    if (i + 1 < p.Length && p[i + 1] == '+' && lastAtomStart >= 0)
                    {
                        // Possessive: wrap atom+quantifier in an atomic group.
                        sb.Insert(lastAtomStart, "(?>");
                        sb.Append(quant).Append(')');
                        i++;
                    }
                    else
                    {
                        sb.Append(quant);
                        if (i + 1 < p.Length && p[i + 1] == '?') { sb.Append('?'); i++; } // lazy
                    }
                    lastAtomStart = -1;
                    break;
                }
                default:
                    lastAtomStart = sb.Length;
                    if (char.IsHighSurrogate(c) && i + 1 < p.Length) { sb.Append(c).Append(p[++i]); sb.Insert(lastAtomStart, "(?:").Append(')'); }
                    else sb.Append(c);
                    break;
            }
        }
        return sb.ToString();
    }

    private static bool IsCountedQuantifier(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty) return false;
        foreach (char ch in s) if (!char.IsAsciiDigit(ch) && ch != ',') return false;
        return true;
    }

    private static int EscapeLength(string p, int i)
    {
        if (i + 1 >= p.Length) return 1;
        char n = p[i + 1];
        if ((n == 'p' || n == 'P') && i + 2 < p.Length && p[i + 2] == '{')
            return p.IndexOf('}', i) - i + 1;
        if (n == 'u') return 6;
        if (n == 'x') return 4;
        return 2;
    }

    private static int ClassEnd(string p, int i)
    {
        int j = i + 1;
        if (j < p.Length && p[j] == '^') j++;
        if (j < p.Length && p[j] == ']') j++; // a leading ']' is literal
        for (; j < p.Length; j++)
        {
            if (p[j] == '\\') { j++; continue; }
            if (p[j] == '[') { j = ClassEnd(p, j); continue; }
            if (p[j] == ']') return j;
        }
        throw new ArgumentException($"unterminated character class in pattern '{p}'");
    }

    private static void AppendCodePoint(StringBuilder sb, int cp)
    {
        foreach (char ch in char.ConvertFromUtf32(cp)) sb.Append(@"\u").Append(((int)ch).ToString("X4", CultureInfo.InvariantCulture));
    }
}
