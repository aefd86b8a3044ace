using System.Runtime.CompilerServices;

namespace PagedAttention.AI.Constraints;

/// <summary>
/// An Earley parser over lexemes with its rows on a stack: scanning a set of lexemes pushes one row, and
/// <see cref="Truncate"/> pops rows in O(1), which is what rollback and the mask's trie walk need. Items live in
/// flat arrays (position, origin); nullable nonterminals are handled as Aycock and Horspool do (predicting one also
/// advances over it), and duplicate items are found through a per-position chain stamped with the row's serial.
/// Each row records the lexer start state for the lexemes it expects and whether the input can end there.
/// Not thread-safe; allocation-free once its arrays have grown to the sequence's size.
/// </summary>
internal sealed class EarleyParser
{
    private readonly Grammar _g;
    private readonly LexerDfa _dfa;

    private int[] _itemPos = new int[256];
    private int[] _itemOrigin = new int[256];
    private int[] _itemNext = new int[256];
    private int _items;

    private int[] _rowStart = new int[64];
    private int[] _rowSerial = new int[64];
    private bool[] _rowAccept = new bool[64];
    private LexerState[] _rowLex = new LexerState[64];
    private int _rows;
    private int _serial;

    private readonly int[] _posStamp, _posHead, _ntStamp, _lexStamp, _scanStamp;
    private int[] _lexBuf = new int[16];

    public EarleyParser(Grammar g, LexerDfa dfa)
    {
        _g = g;
        _dfa = dfa;
        _posStamp = new int[g.Rhs.Length];
        _posHead = new int[g.Rhs.Length];
        _ntStamp = new int[g.NonterminalNames.Length];
        _lexStamp = new int[g.LexemeExprs.Length];
        _scanStamp = new int[g.LexemeExprs.Length];
        Reset();
    }

    public int RowCount => _rows;

    public int ItemCount => _items;

    /// <summary>Lexer start state of the top row: where the next lexeme begins.</summary>
    public LexerState TopLexer => _rowLex[_rows - 1];

    /// <summary>The input so far is a complete sentence (at a lexeme boundary).</summary>
    public bool TopAccepts => _rowAccept[_rows - 1];

    public int TopSerial => _rowSerial[_rows - 1];

    public int SerialAt(int rows) => rows <= _rows ? _rowSerial[rows - 1] : -1;

    /// <summary>Lexer start state of the row that ends the first <paramref name="rows"/> rows (rows ≤ RowCount).</summary>
    public LexerState LexerAt(int rows) => _rowLex[rows - 1];

    public void Reset()
    {
        _items = 0;
        _rows = 0;
        BeginRow();
        Add(_g.RuleStart[_g.RootRule], 0);
        Close();
    }

    /// <summary>Pops rows until <paramref name="rows"/> remain.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Truncate(int rows)
    {
        if (rows >= _rows) return;
        _items = _rowStart[rows]; // where the first popped row began
        _rows = rows;
    }

    /// <summary>
    /// Scans the lexemes <paramref name="lexemes"/> (all matched the same text) from the top row and pushes the row
    /// after them. False, with nothing pushed, when no item expected any of them.
    /// </summary>
    public bool Scan(ReadOnlySpan<int> lexemes)
    {
        int stamp = ++_serial;
        foreach (int l in lexemes) _scanStamp[l] = stamp;
        int prev = _rows - 1, from = _rowStart[prev], to = _items;
        BeginRow();
        for (int i = from; i < to; i++)
        {
            int s = _g.Rhs[_itemPos[i]];
            if (s < 0 && s != Grammar.EndOfRule && _scanStamp[~s] == stamp) Add(_itemPos[i] + 1, _itemOrigin[i]);
        }
        if (_items == _rowStart[_rows - 1]) { _rows--; return false; }
        Close();
        return true;
    }

    private void BeginRow()
    {
        if (_rows == _rowStart.Length)
        {
            int n = _rows * 2;
            Array.Resize(ref _rowStart, n); Array.Resize(ref _rowSerial, n); Array.Resize(ref _rowAccept, n); Array.Resize(ref _rowLex, n);
        }
        _rowStart[_rows] = _items;
        _rowSerial[_rows] = ++_serial;
        _rows++;
    }

    private void Add(int pos, int origin)
    {
        int serial = _rowSerial[_rows - 1];
        if (_posStamp[pos] == serial)
        {
            for (int j = _posHead[pos]; j >= 0; j = _itemNext[j]) if (_itemOrigin[j] == origin) return;
        }
        else { _posStamp[pos] = serial; _posHead[pos] = -1; }
        if (_items == _itemPos.Length)
        {
            int n = _items * 2;
            Array.Resize(ref _itemPos, n); Array.Resize(ref _itemOrigin, n); Array.Resize(ref _itemNext, n);
        }
        _itemPos[_items] = pos;
        _itemOrigin[_items] = origin;
        _itemNext[_items] = _posHead[pos];
        _posHead[pos] = _items;
        _items++;
    }

    // Predict and complete until the top row is closed, then record its lexer start state and acceptance.
    private void Close()
    {
        var g = _g;
        int row = _rows - 1, serial = _rowSerial[row];
        for (int i = _rowStart[row]; i < _items; i++)
        {
            int pos = _itemPos[i], s = g.Rhs[pos];
            if (s == Grammar.EndOfRule)
            {
                int origin = _itemOrigin[i], lhs = g.RuleLhs[g.PosRule[pos]];
                int end = origin == row ? _items : _rowStart[origin + 1];
                for (int j = _rowStart[origin]; j < end; j++)
                    if (g.Rhs[_itemPos[j]] == lhs) Add(_itemPos[j] + 1, _itemOrigin[j]);
            }
            else if (s >= 0)
            {
                if (_ntStamp[s] != serial)
                {
                    _ntStamp[s] = serial;
                    for (int k = g.NtRuleStart[s]; k < g.NtRuleStart[s + 1]; k++) Add(g.RuleStart[g.NtRules[k]], row);
                }
                if (g.Nullable[s]) Add(pos + 1, _itemOrigin[i]);
            }
        }
        // Expected lexemes (ascending, distinct) -> the lexer's start state; root complete -> accepting.
        int n = 0;
        bool accept = false;
        for (int i = _rowStart[row]; i < _items; i++)
        {
            int pos = _itemPos[i], s = g.Rhs[pos];
            if (s == Grammar.EndOfRule) { if (pos == g.RootEnd && _itemOrigin[i] == 0) accept = true; continue; }
            if (s >= 0 || _lexStamp[~s] == serial) continue;
            _lexStamp[~s] = serial;
            if (n == _lexBuf.Length) Array.Resize(ref _lexBuf, n * 2);
            int l = ~s, k = n++;
            while (k > 0 && _lexBuf[k - 1] > l) { _lexBuf[k] = _lexBuf[k - 1]; k--; }
            _lexBuf[k] = l;
        }
        _rowAccept[row] = accept;
        _rowLex[row] = _dfa.Start(_lexBuf.AsSpan(0, n));
    }

    /// <summary>Copies another parser's rows (same grammar) into this one, for forking a matcher.</summary>
    public void CopyFrom(EarleyParser o)
    {
        if (_itemPos.Length < o._items) { _itemPos = new int[o._itemPos.Length]; _itemOrigin = new int[o._itemPos.Length]; _itemNext = new int[o._itemPos.Length]; }
        if (_rowStart.Length < o._rows)
        {
            int n = o._rowStart.Length;
            _rowStart = new int[n]; _rowSerial = new int[n]; _rowAccept = new bool[n]; _rowLex = new LexerState[n];
        }
        Array.Copy(o._itemPos, _itemPos, o._items);
        Array.Copy(o._itemOrigin, _itemOrigin, o._items);
        Array.Copy(o._rowStart, _rowStart, o._rows);
        Array.Copy(o._rowAccept, _rowAccept, o._rows);
        Array.Copy(o._rowLex, _rowLex, o._rows);
        _items = o._items;
        _rows = o._rows;
        // Fresh serials: the dedupe stamps of this parser must not match rows it never built.
        _serial = Math.Max(_serial, o._serial) + 1;
        for (int r = 0; r < _rows; r++) _rowSerial[r] = ++_serial;
    }
}
