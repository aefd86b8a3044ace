using System.Globalization;
using System.Numerics;
using System.Text;

namespace PagedAttention.Text.Templates;

internal sealed partial class Lexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"];

    /// <summary>Tokens of a {{ }} or {% %} tag up to its end; the end only counts when brackets are balanced (as in Jinja).</summary>
    private void LexTag(int start, int inner, TokenKind begin, TokenKind end, string endMark)
    {
        Add(begin, begin == TokenKind.BlockBegin ? "{%" : "{{", start);
        int i = inner;
        int depth = 0;
        while (true)
        {
            while (i < _src.Length && char.IsWhiteSpace(_src[i])) i++;
            if (i >= _src.Length) throw Error($"Unexpected end of template, expected '{endMark}'", start);
            if (depth == 0)
            {
                bool minus = _src[i] == '-' && string.CompareOrdinal(_src, i + 1, endMark, 0, 2) == 0;
                bool plus = end == TokenKind.BlockEnd && _src[i] == '+' && string.CompareOrdinal(_src, i + 1, endMark, 0, 2) == 0;
                if (minus || plus || string.CompareOrdinal(_src, i, endMark, 0, 2) == 0)
                {
                    Add(end, endMark, i);
                    int after = i + 2 + (minus || plus ? 1 : 0);
                    if (end == TokenKind.BlockEnd)
                    {
                        AfterBlockEnd(after, minus, plus);
                    }
                    else
                    {
                        _pos = after;
                        if (minus) while (_pos < _src.Length && char.IsWhiteSpace(_src[_pos])) _pos++;
                        _lineStarting = _pos > 0 && _src[_pos - 1] == '\n';
                    }
                    return;
                }
            }
            char c = _src[i];
            if (char.IsLetter(c) || c == '_')
            {
                int j = i + 1;
                while (j < _src.Length && (char.IsLetterOrDigit(_src[j]) || _src[j] == '_')) j++;
                Add(TokenKind.Name, _src[i..j], i);
                i = j;
            }
            else if (char.IsAsciiDigit(c))
            {
                i = LexNumber(i);
            }
            else if (c is '\'' or '"')
            {
                i = LexString(i);
            }
            else
            {
                string? op = null;
                foreach (var o in Operators)
                {
                    if (string.CompareOrdinal(_src, i, o, 0, o.Length) == 0) { op = o; break; }
                }
                if (op is null) throw Error($"Unexpected char '{c}'", i);
                if (op is "(" or "[" or "{") depth++;
                else if (op is ")" or "]" or "}")
                {
                    if (depth == 0) throw Error($"Unexpected '{op}'", i);
                    depth--;
                }
                Add(TokenKind.Operator, op, i);
                i += op.Length;
            }
        }
    }

    private int LexNumber(int i)
    {
        // Jinja's integer_re: 0b/0o/0x prefixes (case-insensitive, '_' between digits); a decimal may not start with 0.
        if (_src[i] == '0' && i + 1 < _src.Length && char.ToLowerInvariant(_src[i + 1]) is 'x' or 'o' or 'b')
        {
            int radix = char.ToLowerInvariant(_src[i + 1]) switch { 'x' => 16, 'o' => 8, _ => 2 };
            int k = i + 2;
            var digits = new StringBuilder();
            while (k < _src.Length)
            {
                char d = _src[k];
                if (d == '_' && k + 1 < _src.Length && IsDigitOf(_src[k + 1], radix) && digits.Length > 0) { k++; continue; }
                if (d == '_' && digits.Length == 0 && k + 1 < _src.Length && IsDigitOf(_src[k + 1], radix)) { k++; continue; }
                if (!IsDigitOf(d, radix)) break;
                digits.Append(d);
                k++;
            }
            if (digits.Length > 4300) throw Error("integer literal too large", i);
            if (digits.Length > 0)
            {
                var value = BigInteger.Zero;
                foreach (char d in digits.ToString()) value = value * radix + HexValue(d);
                Add(TokenKind.Integer, value.ToString(CultureInfo.InvariantCulture), i);
                return k;
            }
        }
        int j = i;
        while (j < _src.Length && (char.IsAsciiDigit(_src[j]) || _src[j] == '_')) j++;
        bool isFloat = false;
        if (j + 1 < _src.Length && _src[j] == '.' && char.IsAsciiDigit(_src[j + 1]))
        {
            isFloat = true;
            j++;
            while (j < _src.Length && (char.IsAsciiDigit(_src[j]) || _src[j] == '_')) j++;
        }
        if (j < _src.Length && (_src[j] == 'e' || _src[j] == 'E'))
        {
            int k = j + 1;
            if (k < _src.Length && (_src[k] == '+' || _src[k] == '-')) k++;
            if (k < _src.Length && char.IsAsciiDigit(_src[k]))
            {
                isFloat = true;
                j = k;
                while (j < _src.Length && char.IsAsciiDigit(_src[j])) j++;
            }
        }
        Add(isFloat ? TokenKind.Float : TokenKind.Integer, _src[i..j].Replace("_", ""), i);
        return j;
    }

    private int LexString(int i)
    {
        char quote = _src[i];
        var sb = new StringBuilder();
        int j = i + 1;
        while (true)
        {
            if (j >= _src.Length) throw Error("Unterminated string", i);
            char c = _src[j];
            if (c == quote) break;
            if (c != '\\' || j + 1 >= _src.Length) { sb.Append(c); j++; continue; }
            char e = _src[j + 1];
            j += 2;
            // Python's unicode-escape decoding, which Jinja applies to string literals.
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case 'a': sb.Append('\a'); break;
                case '\n': break;
                // Python resolves \N{NAME} from the Unicode name database, which .NET does not ship; refusing it is
                // the safe side (an unknown name is a syntax error in Jinja2 too). No chat template uses it.
                case 'N': throw Error("\\N{...} escapes are not supported (unknown Unicode character name)", i);
                case 'x': j = AppendHex(sb, j, 2, i); break;
                case 'u': j = AppendHex(sb, j, 4, i); break;
                case 'U': j = AppendHex(sb, j, 8, i); break;
                case >= '0' and <= '7':
                    {
                        int v = e - '0', n = 1;
                        while (n < 3 && j < _src.Length && _src[j] is >= '0' and <= '7') { v = v * 8 + (_src[j] - '0'); j++; n++; }
                        sb.Append((char)v);
                        break;
                    }
                default: sb.Append('\\').Append(e); break;
            }
        }
        Add(TokenKind.String, sb.ToString(), i);
        return j + 1;
    }

    private static bool IsDigitOf(char c, int radix) => radix switch
    {
        16 => char.IsAsciiHexDigit(c),
        8 => c is >= '0' and <= '7',
        _ => c is '0' or '1',
    };

    private static int HexValue(char c) => c <= '9' ? c - '0' : char.ToLowerInvariant(c) - 'a' + 10;

    private int AppendHex(StringBuilder sb, int j, int digits, int start)
    {
        if (j + digits > _src.Length || !int.TryParse(_src.AsSpan(j, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int cp))
            throw Error("Truncated escape in string literal", start);
        sb.Append(char.ConvertFromUtf32(cp));
        return j + digits;
    }
}
