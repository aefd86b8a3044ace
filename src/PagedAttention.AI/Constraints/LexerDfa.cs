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
    private readonly Dictionary<ulong, List<LexerState>> _states = new();
    private readonly Dictionary<ulong, List<LexerState>> _starts = new();
    private readonly object _lock = new();
    private int _count;

    // The transitions again, flat for the mask walk: row = state id * ClassCount, entry = the target's row, -1 while
    // not computed; the dead state is id 0, so row 0. No object references, so the walk's frames hold ints (no GC
    // write barriers). Grown by copying under the lock; an entry always points inside the array that holds it.
    private int[] _table = [];
    private LexerState[] _byId = new LexerState[64];

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

    /// <summary>Byte → class (256 entries), for the mask walk's inlined transitions.</summary>
    internal byte[] ClassOf => _classOf;

    /// <summary>The flat transition table (see the field); read it again after any call that may add states.</summary>
    internal int[] Table => Volatile.Read(ref _table);

    /// <summary>The state whose row starts at <paramref name="row"/>.</summary>
    internal LexerState StateAtRow(int row) => Volatile.Read(ref _byId)[row / _classRep.Length];

    /// <summary>Computes a missing transition from a row (the walk's slow path); returns the target's row.</summary>
    internal int FillRow(int row, byte b) => Fill(StateAtRow(row), b).Id * _classRep.Length;

    /// <summary>Transitions computed so far (diagnostics and MaskBench).</summary>
    public int FillCount => Volatile.Read(ref _fills);

    private int _fills;
    private (int Lexeme, int Expr)[] _scratch = new (int, int)[16];

    /// <summary>Computes a missing transition (the slow path of <see cref="Next"/>).</summary>
    internal LexerState Fill(LexerState s, byte b)
    {
        lock (_lock)
        {
            int cls = _classOf[b];
            if (s.Next[cls] is { } done) return done;
            _fills++;
            byte rep = _classRep[cls];
            var src = s.Items;
            if (_scratch.Length < src.Length) _scratch = new (int, int)[src.Length];
            int n = 0;
            foreach (var (lex, e) in src)
            {
                int d = _x.Derive(e, rep);
                if (d != ExprSet.Nothing) _scratch[n++] = (lex, d);
            }
            var t = Intern(_scratch.AsSpan(0, n));
            Volatile.Write(ref s.Next[cls], t);
            Volatile.Write(ref _table[s.Id * _classRep.Length + cls], t.Id * _classRep.Length);
            return t;
        }
    }

    /// <summary>
    /// True when no string of characters that stand raw in a JSON string (U+0020.., not '"' or '\\') can kill the
    /// lexer from <paramref name="s"/>: every state they reach is alive. Then every token of
    /// <see cref="TokenVocabulary.SliceMask"/> is allowed here without walking it — inside a free string (a self-loop)
    /// and at a property key where named keys and additional ones compete. Computed once per state by exploring the
    /// reachable states one byte class at a time (bounded; beyond the bound the answer is "no", which is always safe).
    /// </summary>
    public bool AllowsAllPlainText(LexerState s)
    {
        int known = Volatile.Read(ref s.SliceLoop);
        if (known != 0) return known == 1;
        // A plain ASCII character that cannot even start kills it at once (numbers, literals, punctuation).
        bool ok = !s.IsDead && s.First.Intersect(PlainAscii) == PlainAscii
            && (ClosedByStructure(s, out bool counted) || (!counted && CheckClosed(s)));
        Volatile.Write(ref s.SliceLoop, ok ? 1 : 2);
        return ok;
    }

    private static readonly ByteSet PlainAscii = ByteSet.Range(0x20, 0x7F).Except(ByteSet.Of((byte)'"')).Except(ByteSet.Of((byte)'\\'));

    // UTF-8 lead bytes grouped by (class, continuation count, first continuation range): one per group is enough.
    private (byte Lead, int Count, int Lo, int Hi)[]? _leads;

    private (byte Lead, int Count, int Lo, int Hi)[] Leads => _leads ??= Enumerable.Range(0xC2, 0xF4 - 0xC2 + 1)
        .Select(l => (Lead: (byte)l, Count: l < 0xE0 ? 1 : l < 0xF0 ? 2 : 3, Lo: l switch { 0xE0 => 0xA0, 0xF0 => 0x90, _ => 0x80 }, Hi: l switch { 0xED => 0x9F, 0xF4 => 0x8F, _ => 0xBF }))
        .DistinctBy(x => (_classOf[x.Lead], x.Count, x.Lo, x.Hi)).ToArray();

    /// <summary>Cap of <see cref="PlainDepth"/>: the largest bounded slice.</summary>
    public const int MaxPlainDepth = 32;

    /// <summary>
    /// The largest n ≤ <see cref="MaxPlainDepth"/> such that every string of at most n plain JSON-string characters
    /// keeps the lexer alive from <paramref name="s"/> (a breadth-first search for the shortest killing string);
    /// cached in the state. With n ≥ a bounded slice's bound, that slice's tokens are all allowed.
    /// </summary>
    public int PlainDepth(LexerState s)
    {
        int known = Volatile.Read(ref s.PlainDepth);
        if (known >= 0) return known;
        if (s.First.Intersect(PlainAscii) != PlainAscii)
        {
            Volatile.Write(ref s.PlainDepth, 0);
            return 0;
        }
        int bound = 0;
        lock (_lock)
            foreach (var (_, e) in s.Items) bound = Math.Max(bound, _x.PlainDepthBound(e, MaxPlainDepth));
        if (bound > 0)
        {
            Volatile.Write(ref s.PlainDepth, bound);
            return bound;
        }
        return ComputePlainDepth(s);
    }

    /// <summary>
    /// A lower bound (capped at 127) on the n such that every word (ASCII letters and digits) of at most n characters
    /// keeps the lexer alive from <paramref name="s"/>, by the items' structure; cached in the state. With n ≥ a word
    /// slice's bound, that slice's tokens are all allowed.
    /// </summary>
    public int WordDepth(LexerState s)
    {
        int known = Volatile.Read(ref s.WordDepth);
        if (known >= 0) return known;
        int bound = 0;
        if (s.First.Intersect(WordBytes) == WordBytes)
            lock (_lock)
                foreach (var (_, e) in s.Items) bound = Math.Max(bound, _x.WordDepthBound(e, 127));
        Volatile.Write(ref s.WordDepth, bound);
        return bound;
    }

    /// <summary>
    /// An n such that plain text longer than n characters kills the lexer from <paramref name="s"/> and no plain
    /// text completes a lexeme on the way (<see cref="ExprSet.PlainUpperBound"/>, the largest over the items; 127 =
    /// unknown). Where it equals <see cref="PlainDepth"/> the plain tokens allowed are exactly those of at most n
    /// characters. Cached in the state.
    /// </summary>
    public int PlainUpper(LexerState s)
    {
        int known = Volatile.Read(ref s.PlainUpper);
        if (known >= 0) return known;
        int bound = 0;
        lock (_lock)
            foreach (var (_, e) in s.Items) bound = Math.Max(bound, _x.PlainUpperBound(e));
        Volatile.Write(ref s.PlainUpper, bound);
        return bound;
    }

    /// <summary>
    /// The room left (characters, int.MaxValue = unbounded) when every item of <paramref name="s"/> is the inside of
    /// a JSON string before its closing quote (<see cref="ExprSet.StringRoom"/>); -1 otherwise. Cached in the state.
    /// </summary>
    public int StringRoom(LexerState s)
    {
        int known = Volatile.Read(ref s.StringRoom);
        if (known != int.MinValue) return known;
        int room = s.IsDead ? -1 : 0;
        lock (_lock)
            foreach (var (_, e) in s.Items)
            {
                int r = _x.StringRoom(e);
                if (r < 0) { room = -1; break; }
                room = Math.Max(room, r);
            }
        Volatile.Write(ref s.StringRoom, room);
        return room;
    }

    private static readonly ByteSet WordBytes = ByteSet.Range('0', '9').Union(ByteSet.Range('A', 'Z')).Union(ByteSet.Range('a', 'z'));

    // Some item is closed under plain text by its expression's structure (a free repeat of JSON characters, a marked
    // non-member key): then so is the state, since it lives while any item does. No transitions are built.
    // When an item is a bounded repeat of JSON characters (maxLength) and none is closed, the state is not closed
    // either (in practice) and the search is skipped: false is always safe, and PlainDepth then applies.
    private bool ClosedByStructure(LexerState s, out bool counted)
    {
        counted = false;
        lock (_lock)
        {
            foreach (var (_, e) in s.Items)
            {
                if (_x.IsPlainClosed(e)) return true;
                if (_x.PlainDepthBound(e, MaxPlainDepth) > 0) counted = true;
            }
            return false;
        }
    }

    // Shortest killing string by depth-first search with memoisation. Cutting a cycle (a state already on the stack)
    // counts it as "never dies" — exact for the root, since a shortest path is simple, but not for the states in
    // between, which are then not cached ("optimistic"). Running out of recursion budget counts as "dies now" — safe,
    // it only lowers the answer; such values are cached only when they reach the cap anyway.
    private int ComputePlainDepth(LexerState s)
    {
        var onStack = new HashSet<LexerState>();
        var local = new Dictionary<LexerState, int>();
        bool optimistic = false, pessimistic = false;
        return Depth(s, 64, onStack, local, ref optimistic, ref pessimistic, root: true);
    }

    private int Depth(LexerState u, int budget, HashSet<LexerState> onStack, Dictionary<LexerState, int> local,
        ref bool optimistic, ref bool pessimistic, bool root = false)
    {
        if (u.IsDead) return -1;
        int known = Volatile.Read(ref u.PlainDepth);
        if (known >= 0) return known;
        if (local.TryGetValue(u, out int seen)) return seen;
        if (budget == 0) { pessimistic = true; return 0; }
        if (!onStack.Add(u)) { optimistic = true; return MaxPlainDepth; }
        bool opt = false, pes = false;
        int best = MaxPlainDepth;
        var succ = new HashSet<LexerState>();
        bool midDeath = false;
        void Seq(LexerState t, int left, int lo, int hi)
        {
            if (midDeath) return;
            if (left == 0) { succ.Add(t); return; }
            if (t.IsDead) { midDeath = true; return; }
            Span<bool> classSeen = stackalloc bool[256];
            for (int c = lo; c <= hi && !midDeath; c++)
            {
                int cls = _classOf[c];
                if (classSeen[cls]) continue;
                classSeen[cls] = true;
                Seq(Next(t, (byte)c), left - 1, 0x80, 0xBF);
            }
        }
        for (int b = 0x20; b < 0x80 && !midDeath; b++)
        {
            if (b == '"' || b == '\\') continue;
            var w = Next(u, (byte)b);
            if (w.IsDead) midDeath = true; // a one-character string kills it: depth 0, no need to look further
            else succ.Add(w);
        }
        foreach (var (lead, n, lo, hi) in Leads)
        {
            if (midDeath) break;
            Seq(Next(u, lead), n, lo, hi);
        }
        if (midDeath) best = 0;
        else
            foreach (var w in succ)
            {
                best = Math.Min(best, 1 + Depth(w, budget - 1, onStack, local, ref opt, ref pes));
                if (best == 0) break;
            }
        onStack.Remove(u);
        if (root || (!opt && (!pes || best == MaxPlainDepth))) Volatile.Write(ref u.PlainDepth, best);
        else if (!opt) local[u] = best;
        optimistic |= opt;
        pessimistic |= pes;
        return best;
    }

    private bool CheckClosed(LexerState s)
    {
        const int maxStates = 256;
        var visited = new HashSet<LexerState> { s };
        var midOk = new HashSet<(int, int)>();
        var stack = new Stack<LexerState>();
        stack.Push(s);
        bool Visit(LexerState u)
        {
            if (u.IsDead) return false;
            if (visited.Add(u)) { if (visited.Count > maxStates) return false; stack.Push(u); }
            return true;
        }
        // After a lead byte: `left` continuation bytes, the first in lo..hi; one byte per class is enough.
        bool Seq(LexerState u, int left, int lo, int hi)
        {
            if (left == 0) return Visit(u);
            if (u.IsDead) return false;
            if (lo == 0x80 && hi == 0xBF && !midOk.Add((u.Id, left))) return true;
            Span<bool> classSeen = stackalloc bool[256];
            for (int c = lo; c <= hi; c++)
            {
                int cls = _classOf[c];
                if (classSeen[cls]) continue;
                classSeen[cls] = true;
                if (!Seq(Next(u, (byte)c), left - 1, 0x80, 0xBF)) return false;
            }
            return true;
        }
        while (stack.Count > 0)
        {
            var t = stack.Pop();
            for (int b = 0x20; b < 0x80; b++)
                if (b != '"' && b != '\\' && !Visit(Next(t, (byte)b))) return false;
            foreach (var (lead, n, lo, hi) in Leads)
                if (!Seq(Next(t, lead), n, lo, hi)) return false;
        }
        return true;
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
            if (_scratch.Length < lexemes.Length) _scratch = new (int, int)[lexemes.Length];
            for (int i = 0; i < lexemes.Length; i++) _scratch[i] = (lexemes[i], _lexemeExprs[lexemes[i]]);
            var s = Intern(_scratch.AsSpan(0, lexemes.Length));
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

    private LexerState Intern(ReadOnlySpan<(int Lexeme, int Expr)> items)
    {
        ulong h = 14695981039346656037UL;
        foreach (var (l, e) in items) h = (h ^ (uint)l ^ (ulong)(uint)e << 32) * 1099511628211UL;
        if (_states.TryGetValue(h, out var list))
            foreach (var st in list)
                if (st.Items.AsSpan().SequenceEqual(items)) return st;
        var arr = items.ToArray();
        int acc = 0;
        bool canContinue = false;
        foreach (var (_, e) in arr)
        {
            if (_x.IsNullable(e)) acc++;
            if (e != ExprSet.Empty) canContinue = true;
        }
        var accepting = acc == 0 ? [] : new int[acc];
        acc = 0;
        foreach (var (l, e) in arr) if (_x.IsNullable(e)) accepting[acc++] = l;
        var s = new LexerState(_count, arr, accepting, canContinue, _classRep.Length);
        // Classes no item can start with lead to the dead state: set them now, so that only live transitions are
        // ever computed (most of a state's classes are dead, and the walk meets them all).
        ByteSet first = default;
        foreach (var (_, e) in arr) first = first.Union(_x.First(e));
        s.First = first;
        var dead = arr.Length == 0 ? s : Dead;
        int classes = _classRep.Length, row = s.Id * classes;
        if (row + classes > _table.Length)
        {
            var grown = new int[Math.Max(row + classes, _table.Length * 2)];
            _table.AsSpan().CopyTo(grown);
            Volatile.Write(ref _table, grown);
        }
        if (s.Id == _byId.Length) Array.Resize(ref _byId, _byId.Length * 2);
        _byId[s.Id] = s;
        for (int c = 0; c < classes; c++)
        {
            bool live = first.Contains(_classRep[c]);
            if (!live) s.Next[c] = dead;
            _table[row + c] = live ? -1 : 0;
        }
        if (list is null) _states.Add(h, list = new List<LexerState>(1));
        list.Add(s);
        Volatile.Write(ref _count, _count + 1);
        return s;
    }
}
