namespace PagedAttention.AI.Constraints;

/// <summary>
/// Parses the ECMA-262 subset JSON Schema's <c>pattern</c> uses: literals, <c>.</c>, classes with ranges and
/// negation, <c>\d \w \s \D \W \S</c>, the control and hex/unicode escapes, groups (capturing, <c>(?:)</c>, named),
/// alternation, <c>* + ? {n} {n,} {n,m}</c> (lazy forms mean the same language) and <c>^</c>/<c>$</c> at the ends of
/// top-level alternatives. Lookaround, backreferences, word boundaries and property escapes are rejected with
/// <see cref="RegexParseException"/>: they are not regular (or not supported), and silently ignoring them would
/// let invalid strings through.
/// </summary>
internal sealed class RegexParser
{
    /// <summary>Largest bound accepted in <c>{n,m}</c>; beyond it the lazy DFA would still work, but compiled grammars get huge.</summary>
    public const int MaxRepeat = 10_000;

    private readonly string _p;
    private int _i;

    private RegexParser(string pattern) => _p = pattern;

    public static ParsedPattern Parse(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var parser = new RegexParser(pattern);
        var alts = new List<(RegexNode Node, bool Start, bool End)>();
        do alts.Add(parser.ParseTopAlternative());
        while (parser.Eat('|'));
        if (parser._i < pattern.Length) throw parser.Error($"unexpected '{pattern[parser._i]}'");
        bool allStart = alts.All(a => a.Start), allEnd = alts.All(a => a.End);
        if (alts.Count == 1) return new ParsedPattern(alts[0].Node, allStart, allEnd);
        if (allStart == alts.Any(a => a.Start) && allEnd == alts.Any(a => a.End))
            return new ParsedPattern(new RegexNode.Alt(alts.Select(a => a.Node).ToList()), allStart, allEnd);
        // Mixed anchors (e.g. "^a|b"): pad each unanchored side with "anything" and anchor the whole.
        var any = new RegexNode.Repeat(new RegexNode.Class(CodepointSet.Any()), 0, -1);
        return new ParsedPattern(new RegexNode.Alt(alts.Select(a =>
            (RegexNode)new RegexNode.Seq([.. a.Start ? [] : new[] { any }, a.Node, .. a.End ? [] : new[] { any }])).ToList()), true, true);
    }

    private RegexParseException Error(string what) => new($"pattern '{_p}' at {_i}: {what}");

    private bool Eat(char c)
    {
        if (_i < _p.Length && _p[_i] == c) { _i++; return true; }
        return false;
    }

    private (RegexNode, bool, bool) ParseTopAlternative()
    {
        bool start = Eat('^');
        var items = new List<RegexNode>();
        bool end = false;
        while (_i < _p.Length && _p[_i] != '|')
        {
            if (_p[_i] == '$')
            {
                _i++;
                if (_i < _p.Length && _p[_i] != '|') throw Error("'$' is only supported at the end of the pattern");
                end = true;
                break;
            }
            items.Add(ParseQuantified());
        }
        return (items.Count == 1 ? items[0] : new RegexNode.Seq(items), start, end);
    }

    private RegexNode ParseAlternation()
    {
        var alts = new List<RegexNode>();
        do
        {
            var items = new List<RegexNode>();
            while (_i < _p.Length && _p[_i] != '|' && _p[_i] != ')') items.Add(ParseQuantified());
            alts.Add(items.Count == 1 ? items[0] : new RegexNode.Seq(items));
        } while (Eat('|'));
        return alts.Count == 1 ? alts[0] : new RegexNode.Alt(alts);
    }

    private RegexNode ParseQuantified()
    {
        var atom = ParseAtom();
        while (_i < _p.Length)
        {
            int min, max;
            char c = _p[_i];
            if (c == '*') { min = 0; max = -1; _i++; }
            else if (c == '+') { min = 1; max = -1; _i++; }
            else if (c == '?') { min = 0; max = 1; _i++; }
            else if (c == '{' && TryParseBraces(out min, out max)) { }
            else break;
            Eat('?'); // lazy: same language
            atom = new RegexNode.Repeat(atom, min, max);
        }
        return atom;
    }

    private bool TryParseBraces(out int min, out int max)
    {
        // "{" not followed by a valid quantifier is a literal in ECMA (Annex B); so is it here.
        int save = _i;
        min = max = 0;
        _i++;
        if (!TryNumber(out min)) { _i = save; return false; }
        max = min;
        if (Eat(','))
        {
            if (!TryNumber(out max)) max = -1;
        }
        if (!Eat('}')) { _i = save; return false; }
        if (max != -1 && max < min) throw Error("quantifier range out of order");
        if (min > MaxRepeat || max > MaxRepeat) throw Error($"repetition bound over {MaxRepeat}");
        return true;
    }

    private bool TryNumber(out int n)
    {
        n = 0;
        int start = _i;
        while (_i < _p.Length && char.IsAsciiDigit(_p[_i]))
        {
            n = (int)Math.Min(int.MaxValue / 10, (long)n * 10 + (_p[_i] - '0'));
            _i++;
        }
        return _i > start;
    }

    private RegexNode ParseAtom()
    {
        char c = _p[_i++];
        switch (c)
        {
            case '(':
                if (Eat('?'))
                {
                    if (Eat(':')) { }
                    else if (_i < _p.Length && (_p[_i] == '=' || _p[_i] == '!')) throw Error("lookahead is not supported");
                    else if (Eat('<'))
                    {
                        if (_i < _p.Length && (_p[_i] == '=' || _p[_i] == '!')) throw Error("lookbehind is not supported");
                        while (_i < _p.Length && _p[_i] != '>') _i++;
                        if (!Eat('>')) throw Error("unterminated group name");
                    }
                    else throw Error("unsupported group syntax");
                }
                var inner = ParseAlternation();
                if (!Eat(')')) throw Error("missing ')'");
                return inner;
            case ')': throw Error("unbalanced ')'");
            case '*' or '+' or '?': throw Error("nothing to repeat");
            case '.': return new RegexNode.Class(CodepointSet.Of((0, 9), (11, 12), (14, 0x2027), (0x202A, CodepointSet.MaxCodepoint)));
            case '[': return new RegexNode.Class(ParseClass());
            case '^' or '$': throw Error($"'{c}' is only supported at the ends of the pattern");
            case '\\': return ParseEscape(inClass: false) is { } set ? new RegexNode.Class(set) : throw Error("bad escape");
            default:
                return new RegexNode.Class(CodepointSet.Of((ReadCodepoint(c), ReadCodepoint(c))));
        }
    }

    // A literal char, joining a UTF-16 surrogate pair into one scalar value.
    private int ReadCodepoint(char c)
    {
        if (char.IsHighSurrogate(c) && _i < _p.Length && char.IsLowSurrogate(_p[_i]))
            return char.ConvertToUtf32(c, _p[_i++]);
        if (char.IsSurrogate(c)) throw Error("lone surrogate");
        return c;
    }

    private CodepointSet ParseClass()
    {
        bool negate = Eat('^');
        var set = new CodepointSet();
        while (_i < _p.Length && _p[_i] != ']')
        {
            CodepointSet? lo = ClassAtom();
            if (_i + 1 < _p.Length && _p[_i] == '-' && _p[_i + 1] != ']')
            {
                _i++;
                CodepointSet? hi = ClassAtom();
                if (lo is not { Ranges: [var (a, a2)] } || a != a2 || hi is not { Ranges: [var (b, b2)] } || b != b2)
                    throw Error("a class range needs single characters at both ends");
                if (b < a) throw Error("class range out of order");
                set.Add(a, b);
                continue;
            }
            set.AddAll(lo!);
        }
        if (!Eat(']')) throw Error("missing ']'");
        return negate ? set.Complement() : set;
    }

    private CodepointSet ClassAtom()
    {
        char c = _p[_i++];
        if (c != '\\') { int cp = ReadCodepoint(c); return CodepointSet.Of((cp, cp)); }
        if (_i < _p.Length && _p[_i] == 'b') { _i++; return CodepointSet.Of((8, 8)); }
        if (_i < _p.Length && _p[_i] == '-') { _i++; return CodepointSet.Of(('-', '-')); }
        return ParseEscape(inClass: true) ?? throw Error("bad escape");
    }

    private static readonly CodepointSet Digits = CodepointSet.Of(('0', '9'));
    private static readonly CodepointSet Word = CodepointSet.Of(('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z'));
    private static readonly CodepointSet Space = CodepointSet.Of((9, 13), (' ', ' '), (0xA0, 0xA0), (0x1680, 0x1680),
        (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF));

    private CodepointSet? ParseEscape(bool inClass)
    {
        if (_i >= _p.Length) throw Error("trailing '\\'");
        char c = _p[_i++];
        static CodepointSet One(int cp) => CodepointSet.Of((cp, cp));
        switch (c)
        {
            case 'd': return CodepointSet.Of(('0', '9'));
            case 'D': return Digits.Complement();
            case 'w': return new CodepointSet().AddAll(Word);
            case 'W': return Word.Complement();
            case 's': return new CodepointSet().AddAll(Space);
            case 'S': return Space.Complement();
            case 't': return One('\t');
            case 'n': return One('\n');
            case 'r': return One('\r');
            case 'v': return One('\v');
            case 'f': return One('\f');
            case '0' when _i >= _p.Length || !char.IsAsciiDigit(_p[_i]): return One(0);
            case 'b' or 'B': throw Error("word boundaries are not supported");
            case >= '1' and <= '9': throw Error("backreferences are not supported");
            case 'k' when !inClass: throw Error("named backreferences are not supported");
            case 'p' or 'P': throw Error("Unicode property escapes are not supported");
            case 'c':
                if (_i < _p.Length && char.IsAsciiLetter(_p[_i])) return One(_p[_i++] % 32);
                throw Error("bad \\c escape");
            case 'x': return One(Hex(2));
            case 'u':
                if (Eat('{'))
                {
                    int start = _i;
                    while (_i < _p.Length && _p[_i] != '}') _i++;
                    if (!int.TryParse(_p.AsSpan(start, _i - start), System.Globalization.NumberStyles.HexNumber, null, out int v) || v > CodepointSet.MaxCodepoint || !Eat('}'))
                        throw Error("bad \\u{...} escape");
                    return One(v);
                }
                int u = Hex(4);
                if (u is >= 0xD800 and <= 0xDBFF && _i + 1 < _p.Length && _p[_i] == '\\' && _p[_i + 1] == 'u')
                {
                    int save = _i;
                    _i += 2;
                    int low = Hex(4);
                    if (low is >= 0xDC00 and <= 0xDFFF) return One(char.ConvertToUtf32((char)u, (char)low));
                    _i = save;
                }
                if (u is >= 0xD800 and <= 0xDFFF) throw Error("lone surrogate escape");
                return One(u);
            default:
                if (char.IsAsciiLetterOrDigit(c)) throw Error($"unknown escape '\\{c}'");
                return One(ReadCodepoint(c));
        }
    }

    private int Hex(int n)
    {
        if (_i + n > _p.Length || !int.TryParse(_p.AsSpan(_i, n), System.Globalization.NumberStyles.HexNumber, null, out int v))
            throw Error("bad hex escape");
        _i += n;
        return v;
    }
}
