using System.Globalization;
using System.Text;

namespace PagedAttention.Text.Templates;

/// <summary>
/// Splits a template into tokens the way Jinja2's lexer does with transformers' settings:
/// trim_blocks, lstrip_blocks, '-'/'+' whitespace control, newlines normalised to '\n',
/// and one trailing newline dropped (keep_trailing_newline=False).
/// </summary>
internal sealed partial class Lexer
{
    private readonly string _src;
    private readonly List<Token> _tokens = new();
    private readonly List<int> _lineStarts = new();
    private int _pos;
    private bool _lineStarting = true;

    private Lexer(string source)
    {
        // Jinja splits on \r\n|\r|\n and rejoins with \n, dropping one trailing empty line.
        var s = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (s.EndsWith('\n')) s = s[..^1];
        _src = s;
        _lineStarts.Add(0);
        for (int i = 0; i < s.Length; i++) if (s[i] == '\n') _lineStarts.Add(i + 1);
    }

    public static List<Token> Tokenize(string source)
    {
        var lexer = new Lexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private (int Line, int Col) Position(int index)
    {
        int k = _lineStarts.BinarySearch(index);
        if (k < 0) k = ~k - 1;
        return (k + 1, index - _lineStarts[k] + 1);
    }

    private TemplateException Error(string message, int index)
    {
        var (l, c) = Position(index);
        return new TemplateException(message, l, c);
    }

    private void Add(TokenKind kind, string value, int index)
    {
        var (l, c) = Position(index);
        _tokens.Add(new Token(kind, value, l, c));
    }

    private void Run()
    {
        while (_pos < _src.Length)
        {
            int start = FindTagStart(_pos);
            if (start < 0)
            {
                Add(TokenKind.Data, _src[_pos..], _pos);
                _pos = _src.Length;
                break;
            }
            char kind = _src[start + 1];
            char modifier = start + 2 < _src.Length ? _src[start + 2] : '\0';
            string text = _src[_pos..start];
            if (modifier == '-')
            {
                text = text.TrimEnd(PyWhitespace);
            }
            else if (modifier != '+' && kind != '{')
            {
                // lstrip_blocks: drop spaces/tabs between the line start and a block or comment tag.
                int lpos = text.LastIndexOf('\n') + 1;
                if ((lpos > 0 || _lineStarting) && lpos < text.Length && IsAllWhitespace(text, lpos))
                    text = text[..lpos];
            }
            if (text.Length > 0) Add(TokenKind.Data, text, _pos);
            int inner = start + 2 + (modifier is '-' or '+' ? 1 : 0);
            switch (kind)
            {
                case '#': LexComment(start, inner); break;
                case '{': LexTag(start, inner, TokenKind.VariableBegin, TokenKind.VariableEnd, "}}"); break;
                default:
                    if (!TryLexRaw(start, inner)) LexTag(start, inner, TokenKind.BlockBegin, TokenKind.BlockEnd, "%}");
                    break;
            }
        }
        Add(TokenKind.Eof, "", _src.Length);
    }

    private static readonly char[] PyWhitespace = [' ', '\t', '\n', '\r', '\f', '\v'];

    private static bool IsAllWhitespace(string s, int from)
    {
        for (int i = from; i < s.Length; i++) if (!char.IsWhiteSpace(s[i])) return false;
        return true;
    }

    private int FindTagStart(int from)
    {
        int i = from;
        while (true)
        {
            i = _src.IndexOf('{', i);
            if (i < 0 || i + 1 >= _src.Length) return -1;
            char n = _src[i + 1];
            if (n is '{' or '%' or '#') return i;
            i++;
        }
    }

    /// <summary>After a block/comment end: '-' strips all following whitespace, otherwise trim_blocks eats one newline.</summary>
    private void AfterBlockEnd(int endIndex, bool minus, bool plus)
    {
        _pos = endIndex;
        if (minus)
        {
            while (_pos < _src.Length && char.IsWhiteSpace(_src[_pos])) _pos++;
        }
        else if (!plus && _pos < _src.Length && _src[_pos] == '\n')
        {
            _pos++;
        }
        _lineStarting = _pos > 0 && _src[_pos - 1] == '\n';
    }

    private void LexComment(int start, int inner)
    {
        int end = _src.IndexOf("#}", inner, StringComparison.Ordinal);
        if (end < 0) throw Error("Missing end of comment tag", start);
        bool minus = end > inner && _src[end - 1] == '-';
        bool plus = end > inner && _src[end - 1] == '+';
        AfterBlockEnd(end + 2, minus, plus);
    }

    private bool TryLexRaw(int start, int inner)
    {
        int i = SkipSpaces(inner);
        if (string.CompareOrdinal(_src, i, "raw", 0, 3) != 0) return false;
        int j = SkipSpaces(i + 3);
        bool minus = false, plus = false;
        if (j < _src.Length && (_src[j] == '-' || _src[j] == '+')) { minus = _src[j] == '-'; plus = !minus; j++; }
        if (string.CompareOrdinal(_src, j, "%}", 0, 2) != 0) return false;
        AfterBlockEnd(j + 2, minus, plus);
        int search = _pos;
        while (true)
        {
            int tag = _src.IndexOf("{%", search, StringComparison.Ordinal);
            if (tag < 0) throw Error("Missing end of raw directive", start);
            int k = tag + 2;
            char mod = k < _src.Length ? _src[k] : '\0';
            if (mod is '-' or '+') k++;
            k = SkipSpaces(k);
            if (string.CompareOrdinal(_src, k, "endraw", 0, 6) == 0)
            {
                int e = SkipSpaces(k + 6);
                bool m2 = false, p2 = false;
                if (e < _src.Length && (_src[e] == '-' || _src[e] == '+')) { m2 = _src[e] == '-'; p2 = !m2; e++; }
                if (string.CompareOrdinal(_src, e, "%}", 0, 2) == 0)
                {
                    string text = _src[_pos..tag];
                    if (mod == '-') text = text.TrimEnd(PyWhitespace);
                    if (text.Length > 0) Add(TokenKind.Data, text, _pos);
                    AfterBlockEnd(e + 2, m2, p2);
                    return true;
                }
            }
            search = tag + 2;
        }
    }

    private int SkipSpaces(int i)
    {
        while (i < _src.Length && char.IsWhiteSpace(_src[i])) i++;
        return i;
    }
}
