using System.Collections.Concurrent;
using System.Text;

namespace PagedAttention.Text.Tokenization;

/// <summary>
/// The BPE model of tokenizer.json, with the Rust library's semantics: per-char initial symbols
/// (with continuing_subword_prefix / end_of_word_suffix), byte_fallback to &lt;0xXX&gt; tokens, unk with fuse_unk,
/// ignore_merges, then merges applied lowest rank first, leftmost on ties (a heap, so long words stay O(n log n)).
/// </summary>
internal sealed class BpeModel
{
    private const int MaxCachedWordLength = 256;
    private const int CacheCapacity = 200_000;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabSpan;
    private readonly PairMap _merges; // (left, right) -> (rank<<32 | newId)
    private readonly ConcurrentDictionary<string, int[]> _cache = new();
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheSpan;
    private readonly int[] _byteIds = new int[256];
    private readonly int[] _charIds = new int[128]; // ASCII single-char symbols, -1 if absent (hot path for byte-level)

    // Segmenting a SentencePiece-style word at '▁' (see TokenizeSegmented): null when it is not exact for this model,
    // else the chars after which a '▁' still may not start a new segment (a merge (a, b) with b starting with '▁'
    // and a ending with that char, e.g. Gemma 3's ('>', '▁</')).
    private readonly HashSet<char>? _noSegmentAfter;
    public const char Metaspace = '\u2581';

    [ThreadStatic] private static MergeScratch? t_scratch;
    private int _cacheSize;

    public BpeModel(Dictionary<string, int> vocab, List<(string A, string B)> merges, string? unkToken,
        string? continuingSubwordPrefix, string? endOfWordSuffix, bool fuseUnk, bool byteFallback, bool ignoreMerges)
    {
        _vocab = vocab;
        _vocabSpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _cacheSpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        Prefix = string.IsNullOrEmpty(continuingSubwordPrefix) ? null : continuingSubwordPrefix;
        Suffix = string.IsNullOrEmpty(endOfWordSuffix) ? null : endOfWordSuffix;
        FuseUnk = fuseUnk;
        ByteFallback = byteFallback;
        IgnoreMerges = ignoreMerges;
        UnkToken = unkToken;
        UnkId = unkToken is not null && vocab.TryGetValue(unkToken, out int u) ? u : -1;

        int maxId = -1;
        foreach (int id in vocab.Values) maxId = Math.Max(maxId, id);
        IdToToken = new string?[maxId + 1];
        foreach (var kv in vocab) IdToToken[kv.Value] = kv.Key;

        for (int b = 0; b < 256; b++) _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        for (int c = 0; c < 128; c++) _charIds[c] = vocab.TryGetValue(((char)c).ToString(), out int id) ? id : -1;

        _merges = new PairMap(merges.Count);
        int prefixLen = Prefix?.Length ?? 0;
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (a, b) = merges[rank];
            if (!vocab.TryGetValue(a, out int ia)) throw new TokenizerLoadException($"model.merges[{rank}]: token '{a}' is not in the vocab");
            if (!vocab.TryGetValue(b, out int ib)) throw new TokenizerLoadException($"model.merges[{rank}]: token '{b}' is not in the vocab");
            string merged = string.Concat(a, b.AsSpan(Math.Min(prefixLen, b.Length)));
            if (!vocab.TryGetValue(merged, out int im)) throw new TokenizerLoadException($"model.merges[{rank}]: merged token '{merged}' is not in the vocab");
            _merges.TryAdd(ia, ib, rank, im);
        }

        if (Prefix is null && Suffix is null && !IgnoreMerges && vocab.ContainsKey(Metaspace.ToString()))
        {
            _noSegmentAfter = new HashSet<char>();
            foreach (var (a, b) in merges)
                if (b.Length > 0 && b[0] == Metaspace && (a.Length == 0 || a[^1] != Metaspace))
                    _noSegmentAfter.Add(a.Length == 0 ? Metaspace : a[^1]);
        }
    }

    public string? Prefix { get; }
    public string? Suffix { get; }
    public bool FuseUnk { get; }
    public bool ByteFallback { get; }
    public bool IgnoreMerges { get; }
    public string? UnkToken { get; }
    public int UnkId { get; }
    public string?[] IdToToken { get; }

    public bool TryGetId(ReadOnlySpan<char> token, out int id) => _vocabSpan.TryGetValue(token, out id);

    /// <summary>Appends the ids of one pre-tokenized word.</summary>
    public void Tokenize(ReadOnlySpan<char> word, IdBuffer output)
    {
        if (word.IsEmpty) return;
        if (IgnoreMerges && _vocabSpan.TryGetValue(word, out int whole)) { output.Add(whole); return; }
        if (word.Length <= MaxCachedWordLength && _cacheSpan.TryGetValue(word, out int[]? cached)) { output.AddRange(cached); return; }

        var s = t_scratch ??= new MergeScratch();
        s.Reset();
        BuildSymbols(word, s);
        MergeAll(s);
        int start = output.Count;
        for (int i = 0; i != -1 && s.Count > 0; i = s.Next[i]) output.Add(s.Ids[i]);
        // ConcurrentDictionary.Count takes every lock, so the size is tracked separately.
        if (word.Length <= MaxCachedWordLength && Volatile.Read(ref _cacheSize) < CacheCapacity &&
            _cache.TryAdd(word.ToString(), output.Span[start..].ToArray()))
            Interlocked.Increment(ref _cacheSize);
    }

    /// <summary>
    /// Same ids as <see cref="Tokenize"/> on the whole word, for a word in which spaces are '▁' (Llama 2 / Mistral, Gemma):
    /// cut before each '▁' that follows a char c other than '▁', when no merge can ever join across that cut, and
    /// tokenize the segments separately (so they are short and cached). No merge joins across: the left symbol always
    /// ends with c's own token (c is a single vocab token, so not byte fallback or unk), the right one always starts
    /// with the '▁' token, and no merge (a, b) has b starting with '▁' and a ending with c (checked at load). Merges on
    /// either side then never interact, and the heap order restricted to a segment is that segment's own order.
    /// </summary>
    public void TokenizeSegmented(ReadOnlySpan<char> word, IdBuffer output)
    {
        if (_noSegmentAfter is null || word.Length <= MaxCachedWordLength) { Tokenize(word, output); return; }
        int start = 0;
        int i = 1;
        while (i < word.Length)
        {
            int k = word[i..].IndexOf(Metaspace);
            if (k < 0) break;
            i += k;
            char c = word[i - 1];
            if (c != Metaspace && !char.IsSurrogate(c) && !_noSegmentAfter.Contains(c) && IsSingleCharToken(c))
            {
                Tokenize(word[start..i], output);
                start = i;
            }
            i++;
        }
        Tokenize(word[start..], output);
    }

    private bool IsSingleCharToken(char c) => c < 128 ? _charIds[c] >= 0 : _vocabSpan.ContainsKey(new ReadOnlySpan<char>(in c));

    private void BuildSymbols(ReadOnlySpan<char> w, MergeScratch s)
    {
        int unkLen = 0; // >0 while an unk run is pending (Rust keeps (id,len) and flushes lazily)
        for (int i = 0; i < w.Length;)
        {
            int n = char.IsHighSurrogate(w[i]) && i + 1 < w.Length && char.IsLowSurrogate(w[i + 1]) ? 2 : 1;
            bool first = i == 0, last = i + n == w.Length;
            ReadOnlySpan<char> ch = w.Slice(i, n);
            i += n;
            int id;
            bool found;
            ReadOnlySpan<char> sym = ch;
            if ((Prefix is null || first) && (Suffix is null || !last))
            {
                if (n == 1 && ch[0] < 128) { id = _charIds[ch[0]]; found = id >= 0; }
                else found = _vocabSpan.TryGetValue(ch, out id);
            }
            else
            {
                string full = string.Concat(first ? "" : Prefix, ch, last ? Suffix : "");
                sym = full;
                found = _vocab.TryGetValue(full, out id);
            }
            if (found)
            {
                if (unkLen > 0) { s.Add(UnkId); unkLen = 0; }
                s.Add(id);
                continue;
            }
            if (ByteFallback && TryAddBytes(sym, s, ref unkLen)) continue;
            if (UnkToken is not null)
            {
                if (UnkId < 0) throw new InvalidOperationException($"The unk token '{UnkToken}' is not in the vocabulary.");
                if (unkLen > 0 && !FuseUnk) s.Add(UnkId);
                unkLen += n;
            }
        }
        if (unkLen > 0) s.Add(UnkId);
    }

    private bool TryAddBytes(ReadOnlySpan<char> sym, MergeScratch s, ref int unkLen)
    {
        Span<byte> bytes = stackalloc byte[256];
        int nb = Encoding.UTF8.GetBytes(sym, bytes);
        for (int k = 0; k < nb; k++) if (_byteIds[bytes[k]] < 0) return false;
        if (unkLen > 0) { s.Add(UnkId); unkLen = 0; }
        for (int k = 0; k < nb; k++) s.Add(_byteIds[bytes[k]]);
        return true;
    }

    // Heap entries are rank << 32 | position of the left symbol: the lowest rank first, the leftmost on ties.
    private void MergeAll(MergeScratch s)
    {
        int[] ids = s.Ids, prev = s.Prev, next = s.Next;
        s.EnsureHeap(s.Count);
        long[] heap = s.Heap;
        int n = 0;
        for (int i = 0; i + 1 < s.Count; i++)
        {
            long m = _merges.Get(ids[i], ids[i + 1]);
            if (m >= 0) heap[n++] = (m & ~0xFFFFFFFFL) | (uint)i;
        }
        for (int i = (n >> 1) - 1; i >= 0; i--) SiftDown(heap, n, i, heap[i]);
        while (n > 0)
        {
            long top = heap[0];
            n--;
            if (n > 0) SiftDown(heap, n, 0, heap[n]);
            int pos = (int)top;
            if (ids[pos] < 0) continue;             // left symbol was merged away
            int right = next[pos];
            if (right < 0) continue;
            long m = _merges.Get(ids[pos], ids[right]);
            if (m < 0 || (m >> 32) != (top >> 32)) continue; // stale: the pair at pos changed
            ids[pos] = (int)m;
            ids[right] = -1;
            int rr = next[right];
            next[pos] = rr;
            if (rr >= 0) prev[rr] = pos;
            int pl = prev[pos];
            if (pl >= 0)
            {
                long ml = _merges.Get(ids[pl], ids[pos]);
                if (ml >= 0) n = Push(heap, n, (ml & ~0xFFFFFFFFL) | (uint)pl);
            }
            if (rr >= 0)
            {
                long mr = _merges.Get(ids[pos], ids[rr]);
                if (mr >= 0) n = Push(heap, n, (mr & ~0xFFFFFFFFL) | (uint)pos);
            }
        }
    }

    // Heap size bound: Count - 1 initial entries; a successful merge pops one and pushes at most two (net +1), and there
    // are at most Count - 1 merges, so the heap never exceeds 2 * Count entries (EnsureHeap's size).
    private static int Push(long[] heap, int n, long item)
    {
        int i = n;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            long p = heap[parent];
            if (p <= item) break;
            heap[i] = p;
            i = parent;
        }
        heap[i] = item;
        return n + 1;
    }

    private static void SiftDown(long[] heap, int n, int i, long item)
    {
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= n) break;
            long c = heap[child];
            if (child + 1 < n && heap[child + 1] < c) c = heap[++child];
            if (item <= c) break;
            heap[i] = c;
            i = child;
        }
        heap[i] = item;
    }

    private sealed class MergeScratch
    {
        public int[] Ids = new int[64];
        public int[] Prev = new int[64];
        public int[] Next = new int[64];
        public int Count;
        public long[] Heap = new long[128];

        public void Reset() => Count = 0;

        public void EnsureHeap(int count)
        {
            if (Heap.Length < 2 * count + 2) Heap = new long[Math.Max(2 * count + 2, Heap.Length * 2)];
        }

        public void Add(int id)
        {
            if (Count == Ids.Length)
            {
                Array.Resize(ref Ids, Count * 2);
                Array.Resize(ref Prev, Count * 2);
                Array.Resize(ref Next, Count * 2);
            }
            Ids[Count] = id;
            Prev[Count] = Count - 1;
            Next[Count] = -1;
            if (Count > 0) Next[Count - 1] = Count;
            Count++;
        }
    }
}
