using System.Runtime.CompilerServices;

namespace PagedAttention.AI.Constraints;

/// <summary>
/// The lexer of a compiled grammar: a DFA over byte classes whose states are sets of (lexeme, regex derivative)
/// pairs, built lazily from the hash-consed <see cref="ExprSet"/> as llguidance does. A start state is made for each
/// set of lexemes the parser allows at a point; a transition is computed the first time it is taken and then read
/// without locking. Byte classes (bytes no regex of the grammar tells apart) keep the rows short.
/// Thread-safe: many matchers on many threads may share one DFA; misses serialise on a lock.
/// </summary>
internal sealed class LexerDfa
{
    private readonly ExprSet _x;
    private readonly int[] _lexemeExprs;
    private readonly byte[] _classOf = new byte[256];
    private readonly byte[] _classRep;
    private readonly Dictionary<string, LexerState> _states = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, List<LexerState>> _starts = new();
    private readonly object _lock = new();
    private int _count;

    public LexerDfa(ExprSet x, int[] lexemeExprs)
    {
        _x = x;
        _lexemeExprs = lexemeExprs;
        // Partition refinement: two bytes share a class when every byte set of the grammar holds both or neither.
        var signature = new Dictionary<string, int>();
        var sig = new char[x.ByteSets.Count];
        var reps = new List<byte>();
        for (int b = 0; b < 256; b++)
        {
            for (int s = 0; s < sig.Length; s++) sig[s] = x.ByteSets[s].Contains(b) ? '1' : '0';
            string key = new(sig);
            if (!signature.TryGetValue(key, out int cls))
            {
                cls = signature.Count;
                signature.Add(key, cls);
                reps.Add((byte)b);
            }
            _classOf[b] = (byte)cls;
        }
        if (reps.Count > 255) throw new InvalidOperationException("too many byte classes");
        _classRep = reps.ToArray();
        Dead = Intern([]);
    }

    public LexerState Dead { get; }

    public int ClassCount => _classRep.Length;

    /// <summary>Number of states built so far (diagnostics and tests).</summary>
    public int StateCount => Volatile.Read(ref _count);

    public int LexemeCount => _lexemeExprs.Length;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public LexerState Next(LexerState s, byte b) => s.Next[_classOf[b]] ?? Fill(s, b);

    private LexerState Fill(LexerState s, byte b)
    {
        lock (_lock)
        {
            int cls = _classOf[b];
            if (s.Next[cls] is { } done) return done;
            byte rep = _classRep[cls];
            var items = new List<(int, int)>(s.Items.Length);
            foreach (var (lex, e) in s.Items)
            {
                int d = _x.Derive(e, rep);
                if (d != ExprSet.Nothing) items.Add((lex, d));
            }
            var t = Intern(items.ToArray());
            Volatile.Write(ref s.Next[cls], t);
            return t;
        }
    }

    /// <summary>The state where the given lexemes (ascending, distinct ids) may start. Allocation-free once seen.</summary>
    public LexerState Start(ReadOnlySpan<int> lexemes)
    {
        ulong h = 14695981039346656037UL;
        foreach (int l in lexemes) h = (h ^ (uint)l) * 1099511628211UL;
        lock (_lock)
        {
            if (_starts.TryGetValue(h, out var list))
                foreach (var st in list)
                    if (SameLexemes(st, lexemes)) return st;
            var items = new (int, int)[lexemes.Length];
            for (int i = 0; i < lexemes.Length; i++) items[i] = (lexemes[i], _lexemeExprs[lexemes[i]]);
            var s = Intern(items);
            if (list is null) _starts.Add(h, list = []);
            list.Add(s);
            return s;
        }
    }

    private static bool SameLexemes(LexerState s, ReadOnlySpan<int> lexemes)
    {
        if (s.Items.Length != lexemes.Length) return false;
        for (int i = 0; i < lexemes.Length; i++) if (s.Items[i].Lexeme != lexemes[i]) return false;
        return true;
    }

    private LexerState Intern((int Lexeme, int Expr)[] items)
    {
        var sb = new System.Text.StringBuilder(items.Length * 8);
        foreach (var (l, e) in items) sb.Append(l).Append(':').Append(e).Append(',');
        string key = sb.ToString();
        if (_states.TryGetValue(key, out var s)) return s;
        var accepting = items.Where(i => _x.IsNullable(i.Expr)).Select(i => i.Lexeme).ToArray();
        bool canContinue = items.Any(i => i.Expr != ExprSet.Empty);
        s = new LexerState(_states.Count, items, accepting, canContinue, _classRep.Length);
        _states.Add(key, s);
        Volatile.Write(ref _count, _states.Count);
        return s;
    }
}
