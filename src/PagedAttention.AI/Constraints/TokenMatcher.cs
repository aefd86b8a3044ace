using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PagedAttention.AI.Constraints;

/// <summary>
/// The grammar state of one sequence: which tokens may come next (<see cref="ComputeMask"/>), advancing by a sampled
/// token (<see cref="TryConsume"/>), and going back (<see cref="Rollback"/>, <see cref="Fork"/>) for speculative
/// drafts, n &gt; 1 and preemption. State = Earley rows (a stack) + the lexer DFA state inside the current lexeme.
/// Lexemes are greedy (llguidance's rule): a lexeme ends when the next byte cannot extend it, and then the parser
/// scans every lexeme complete at that point. Not thread-safe: one matcher per sequence, one thread at a time;
/// different matchers of one grammar may run on different threads. No allocation per mask or token once warm.
/// </summary>
internal sealed class TokenMatcher
{
    private readonly CompiledGrammar _cg;
    private readonly LexerDfa _dfa;
    private readonly EarleyParser _parser;
    private LexerState _lex;
    private bool _inLexeme;
    private bool _finished;

    // Rollback history, one entry per consumed token.
    private int[] _hRows = new int[64];
    private LexerState[] _hLex = new LexerState[64];
    private bool[] _hIn = new bool[64];
    private bool[] _hFinished = new bool[64];
    private int _history;

    // Trie-walk frames, one per depth.
    // Trie-walk frames, one per depth: the lexer state's row in LexerDfa.Table, the parser's row count, and the
    // lexer row after scanning the lexeme this frame ends (-1 unknown, 0 dead), shared by the frame's children.
    private readonly int[] _fLex;
    private readonly int[] _fRows;
    private readonly int[] _fScanLex;
    private readonly int[] _fScanSerial;

    // Scans by parser level during a walk: the row pushed after `rows` rows, from the top row with serial
    // _lvlTop[rows], by the lexemes _lvlAcc[rows]; _lvlRes[rows] = that row's serial, or 0 when the scan failed.
    // Many frames scan the same lexemes from the same row (every token that closes a string), so they share it.
    private int[] _lvlTop = new int[16], _lvlRes = new int[16];
    private int[]?[] _lvlAcc = new int[16][];

    internal TokenMatcher(CompiledGrammar cg)
    {
        _cg = cg;
        _dfa = cg.Lexer;
        _parser = new EarleyParser(cg.Grammar, cg.Lexer);
        _lex = _parser.TopLexer;
        int depth = cg.Vocabulary.Trie.MaxDepth + 2;
        _fLex = new int[depth];
        _fRows = new int[depth];
        _fScanLex = new int[depth];
        _fScanSerial = new int[depth];
    }

    public CompiledGrammar Grammar => _cg;

    /// <summary>Nodes of the trie the last mask walked (the full trie, or a slice's rest): diagnostics and MaskBench.</summary>
    internal int LastTrieSize { get; private set; }

    /// <summary>Trie nodes the last mask visited (the rest were skipped with their rejected parents).</summary>
    internal int LastVisited { get; private set; }

    /// <summary>Earley scans the last mask ran (lexeme boundaries inside tokens, after sharing).</summary>
    internal int LastScans { get; private set; }

    /// <summary>Words a mask needs: ceil(vocabulary size / 32).</summary>
    public int MaskWords => _cg.Vocabulary.MaskWords;

    /// <summary>Tokens consumed (and not rolled back) since creation or <see cref="Reset"/>.</summary>
    public int TokenCount => _history;

    /// <summary>The output so far is a complete match: EOS is allowed now.</summary>
    public bool IsAccepting
    {
        get
        {
            if (_finished) return true;
            if (!_inLexeme) return _parser.TopAccepts;
            if (_lex.Accepting.Length == 0) return false;
            int rows = _parser.RowCount;
            if (!_parser.Scan(_lex.Accepting)) return false;
            bool a = _parser.TopAccepts;
            _parser.Truncate(rows);
            return a;
        }
    }

    /// <summary>Complete and nothing but EOS can follow (or EOS was consumed): the sequence should finish with Stop.</summary>
    public bool IsStopped
    {
        get
        {
            if (_finished) return true;
            if (!IsAccepting) return false;
            if (!_inLexeme) return _parser.TopLexer.IsDead;
            if (_lex.CanContinue) return false;
            int rows = _parser.RowCount;
            _parser.Scan(_lex.Accepting);
            bool dead = _parser.TopLexer.IsDead;
            _parser.Truncate(rows);
            return dead;
        }
    }

    /// <summary>Back to the start of the grammar.</summary>
    public void Reset()
    {
        _parser.Reset();
        _lex = _parser.TopLexer;
        _inLexeme = false;
        _finished = false;
        _history = 0;
    }

    /// <summary>
    /// Advances by one token; false (state unchanged) when the grammar does not allow it. An EOS token is accepted
    /// only when <see cref="IsAccepting"/>, and nothing is accepted after it.
    /// </summary>
    public bool TryConsume(int token)
    {
        if (_finished) return false;
        int rows = _parser.RowCount;
        var lex = _lex;
        bool inLexeme = _inLexeme;
        if (Array.IndexOf(_cg.Vocabulary.EosTokens, token) >= 0)
        {
            if (!IsAccepting) return false;
            Push(rows, lex, inLexeme);
            _finished = true;
            return true;
        }
        var bytes = _cg.Vocabulary.TokenBytes(token);
        if (bytes.IsEmpty) return false;
        foreach (byte b in bytes)
        {
            if (!ConsumeByte(b))
            {
                _parser.Truncate(rows);
                _lex = lex;
                _inLexeme = inLexeme;
                return false;
            }
        }
        Push(rows, lex, inLexeme);
        return true;
    }

    /// <summary>Advances by raw bytes (not a token: no history entry); all or nothing. For tests and forced text.</summary>
    public bool TryConsumeBytes(ReadOnlySpan<byte> bytes)
    {
        if (_finished) return false;
        int rows = _parser.RowCount;
        var lex = _lex;
        bool inLexeme = _inLexeme;
        foreach (byte b in bytes)
        {
            if (!ConsumeByte(b))
            {
                _parser.Truncate(rows);
                _lex = lex;
                _inLexeme = inLexeme;
                return false;
            }
        }
        return true;
    }

    /// <summary>Whether the bytes could be consumed now; the state is unchanged either way (the mask oracle, validation).</summary>
    public bool CanConsumeBytes(ReadOnlySpan<byte> bytes)
    {
        if (_finished) return false;
        int rows = _parser.RowCount;
        var lex = _lex;
        bool inLexeme = _inLexeme, ok = true;
        foreach (byte b in bytes) if (!ConsumeByte(b)) { ok = false; break; }
        _parser.Truncate(rows);
        _lex = lex;
        _inLexeme = inLexeme;
        return ok;
    }

    /// <summary>Undoes the last <paramref name="tokens"/> consumed tokens.</summary>
    public void Rollback(int tokens)
    {
        if ((uint)tokens > (uint)_history) throw new ArgumentOutOfRangeException(nameof(tokens), $"only {_history} tokens to roll back");
        if (tokens == 0) return;
        int h = _history - tokens;
        _parser.Truncate(_hRows[h]);
        _lex = _hLex[h];
        _inLexeme = _hIn[h];
        _finished = _hFinished[h];
        _history = h;
    }

    /// <summary>An independent copy of this state (n &gt; 1, beams, preemption); it keeps the rollback history.</summary>
    public TokenMatcher Fork()
    {
        var m = new TokenMatcher(_cg);
        m._parser.CopyFrom(_parser);
        m._lex = _lex;
        m._inLexeme = _inLexeme;
        m._finished = _finished;
        m._hRows = (int[])_hRows.Clone();
        m._hLex = (LexerState[])_hLex.Clone();
        m._hIn = (bool[])_hIn.Clone();
        m._hFinished = (bool[])_hFinished.Clone();
        m._history = _history;
        return m;
    }

    private void Push(int rows, LexerState lex, bool inLexeme)
    {
        if (_history == _hRows.Length)
        {
            int n = _history * 2;
            Array.Resize(ref _hRows, n); Array.Resize(ref _hLex, n); Array.Resize(ref _hIn, n); Array.Resize(ref _hFinished, n);
        }
        _hRows[_history] = rows;
        _hLex[_history] = lex;
        _hIn[_history] = inLexeme;
        _hFinished[_history] = _finished;
        _history++;
    }

    private bool ConsumeByte(byte b)
    {
        var t = _dfa.Next(_lex, b);
        if (!t.IsDead) { _lex = t; _inLexeme = true; return true; }
        if (!_inLexeme || _lex.Accepting.Length == 0) return false;
        if (!_parser.Scan(_lex.Accepting)) return false;
        t = _dfa.Next(_parser.TopLexer, b);
        if (t.IsDead) { _parser.Truncate(_parser.RowCount - 1); return false; }
        _lex = t;
        return true;
    }

    /// <summary>
    /// Fills <paramref name="words"/> with the allowed-token bitmask: bit t%32 of word t/32 (LSB first), 1 = allowed.
    /// Needs at least <see cref="MaskWords"/> words; words beyond the vocabulary are cleared. EOS is set only when
    /// the grammar can end here. Walks the token trie once, skipping every subtree whose first byte is rejected.
    /// </summary>
    public void ComputeMask(Span<uint> words)
    {
        if (words.Length < MaskWords) throw new ArgumentException($"the mask needs {MaskWords} words, got {words.Length}", nameof(words));
        words.Clear();
        var vocab = _cg.Vocabulary;
        if (_finished) { SetEos(words, vocab); return; }
        var trie = vocab.Trie;
        if (_inLexeme)
        {
            if (_dfa.StringRoom(_lex) is var room && room >= 0)
            {
                // Inside a free or maxLength string value: the tokens that stay inside are the tokenizer's own
                // precomputed mask for that much room; only the tokens that close the string (and the rare long
                // ones) are walked.
                vocab.StringUpTo[Math.Min(room, LexerDfa.MaxPlainDepth)].CopyTo(words);
                trie = vocab.QuoteTrie;
            }
            else if (_dfa.AllowsAllPlainText(_lex))
            {
                // No plain text can end or kill the lexeme here: the slice's tokens are all allowed (one copy), only
                // the rest is walked.
                vocab.SliceMask.CopyTo(words);
                trie = vocab.RestTrie;
            }
            else if (_dfa.PlainDepth(_lex) is var depth && _lex.Accepting.Length == 0 && _dfa.PlainUpper(_lex) == depth)
            {
                // Exactly the plain texts of at most `depth` characters pass (a maxLength string with that much room,
                // or none at all): those tokens are one mask, and only the non-plain tokens are walked.
                if (depth > 0) vocab.PlainUpTo[depth].CopyTo(words);
                trie = vocab.RestTrie;
            }
            else if (depth >= TokenVocabulary.SliceBounds[0])
            {
                // A counting lexeme (maxLength) with room left: plain tokens no longer than the room are allowed.
                int k = TokenVocabulary.SliceBounds.Length - 1;
                while (TokenVocabulary.SliceBounds[k] > depth) k--;
                var (mask, rest) = vocab.BoundedSlices[k];
                mask.CopyTo(words);
                trie = rest;
            }
            else if (_dfa.WordDepth(_lex) is var wordDepth && wordDepth >= TokenVocabulary.WordBounds[0])
            {
                // A pattern or format that repeats letters and digits (a path, an e-mail address): word tokens no
                // longer than the room are allowed.
                int k = TokenVocabulary.WordBounds.Length - 1;
                while (TokenVocabulary.WordBounds[k] > wordDepth) k--;
                var (mask, rest) = vocab.WordSlices[k];
                mask.CopyTo(words);
                trie = rest;
            }
        }
        LastTrieSize = trie.Nodes.Length;
        LastScans = 0;
        LastVisited = Walk(words, trie);
        foreach (var (primary, dup) in trie.Duplicates)
            if ((words[primary >> 5] & (1u << (primary & 31))) != 0) words[dup >> 5] |= 1u << (dup & 31);
        if (IsAccepting) SetEos(words, vocab);
    }

    private static void SetEos(Span<uint> words, TokenVocabulary vocab)
    {
        foreach (int e in vocab.EosTokens) words[e >> 5] |= 1u << (e & 31);
    }

    // The hot loop: one iteration per visited trie node. Bounds checks are hoisted by hand (node depths are at most
    // MaxDepth, for which the frame arrays are sized; class ids index rows of ClassCount entries; a row read from the
    // table lies inside it, and the table is read again after every call that can add states).
    private int Walk(Span<uint> words, TokenTrie trie)
    {
        var nodes = trie.Nodes;
        var dfa = _dfa;
        var parser = _parser;
        int classes = dfa.ClassCount;
        int baseRows = parser.RowCount;
        var table = dfa.Table;
        _fLex[0] = _lex.Id * classes;
        _fRows[0] = baseRows;
        _fScanLex[0] = -1;
        ref ulong node0 = ref MemoryMarshal.GetArrayDataReference(nodes);
        ref byte class0 = ref MemoryMarshal.GetArrayDataReference(dfa.ClassOf);
        ref int tab0 = ref MemoryMarshal.GetArrayDataReference(table);
        ref int lex0 = ref MemoryMarshal.GetArrayDataReference(_fLex);
        ref int rows0 = ref MemoryMarshal.GetArrayDataReference(_fRows);
        ref int scan0 = ref MemoryMarshal.GetArrayDataReference(_fScanLex);
        ref uint word0 = ref MemoryMarshal.GetReference(words);
        int i = 0, n = nodes.Length, visited = 0;
        while (i < n)
        {
            visited++;
            ulong node = Unsafe.Add(ref node0, i);
            int d = (int)(node >> 8) & 0x3FF, p = d - 1;
            byte b = (byte)node;
            int cur = Unsafe.Add(ref lex0, p);
            int t = Unsafe.Add(ref tab0, cur + Unsafe.Add(ref class0, b));
            if (t < 0)
            {
                t = dfa.FillRow(cur, b);
                table = dfa.Table;
                tab0 = ref MemoryMarshal.GetArrayDataReference(table);
            }
            int rows = Unsafe.Add(ref rows0, p);
            if (t == 0)
            {
                // The byte ends the current lexeme: scan it once per frame and reuse for the siblings.
                int sl = Unsafe.Add(ref scan0, p);
                if (sl < 0 || (sl > 0 && parser.SerialAt(rows + 1) != _fScanSerial[p]))
                {
                    sl = ScanAt(p, rows);
                    table = dfa.Table;
                    tab0 = ref MemoryMarshal.GetArrayDataReference(table);
                }
                if (sl == 0) { i += (int)(node >> 40); continue; }
                t = Unsafe.Add(ref tab0, sl + Unsafe.Add(ref class0, b));
                if (t < 0)
                {
                    t = dfa.FillRow(sl, b);
                    table = dfa.Table;
                    tab0 = ref MemoryMarshal.GetArrayDataReference(table);
                }
                if (t == 0) { i += (int)(node >> 40); continue; }
                rows++;
            }
            Unsafe.Add(ref lex0, d) = t;
            Unsafe.Add(ref rows0, d) = rows;
            Unsafe.Add(ref scan0, d) = -1;
            int tok = (int)((node >> 18) & 0x3FFFFF) - 1;
            if (tok >= 0) Unsafe.Add(ref word0, tok >> 5) |= 1u << (tok & 31);
            i++;
        }
        parser.Truncate(baseRows);
        return visited;
    }

    // Scans the lexemes complete in frame p's lexer state; returns the lexer row after them, 0 when none fits.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int ScanAt(int p, int rows)
    {
        var cur = _dfa.StateAtRow(_fLex[p]);
        int classes = _dfa.ClassCount;
        int sl = 0;
        if ((p > 0 || _inLexeme) && cur.Accepting.Length > 0)
        {
            var parser = _parser;
            int top = parser.SerialAt(rows);
            if (rows >= _lvlTop.Length)
            {
                int len = Math.Max(rows + 1, _lvlTop.Length * 2);
                Array.Resize(ref _lvlTop, len); Array.Resize(ref _lvlRes, len); Array.Resize(ref _lvlAcc, len);
            }
            var acc = _lvlAcc[rows];
            if (_lvlTop[rows] == top && acc is not null && (acc == cur.Accepting || acc.AsSpan().SequenceEqual(cur.Accepting))
                && (_lvlRes[rows] == 0 || parser.SerialAt(rows + 1) == _lvlRes[rows]))
            {
                // The same scan from the same row already ran in this walk and its row is still there.
                if (_lvlRes[rows] != 0) { sl = parser.LexerAt(rows + 1).Id * classes; _fScanSerial[p] = _lvlRes[rows]; }
            }
            else
            {
                LastScans++;
                parser.Truncate(rows);
                int res = 0;
                if (parser.Scan(cur.Accepting)) { sl = parser.TopLexer.Id * classes; res = _fScanSerial[p] = parser.TopSerial; }
                _lvlTop[rows] = top;
                _lvlAcc[rows] = cur.Accepting;
                _lvlRes[rows] = res;
            }
        }
        _fScanLex[p] = sl;
        return sl;
    }
}
