using System.Globalization;
using System.Text;

namespace PagedAttention.Text.Tokenization;

/// <summary>One piece of text between pre-tokenization steps. <c>AtStart</c>: it begins at offset 0 of the
/// original input (Metaspace's prepend_scheme "first" needs that).</summary>
internal readonly record struct PreSplit(string Text, bool AtStart);

/// <summary>A tokenizer.json pre-tokenizer: refines a list of splits into a list of splits.</summary>
internal abstract class PreTokenizer
{
    /// <summary>Appends the sub-splits of <paramref name="split"/> to <paramref name="output"/>.</summary>
    public abstract void Split(PreSplit split, List<PreSplit> output);
}

internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>The Split pre-tokenizer (and the splitting core of the others), mirroring Rust's NormalizedString::split.</summary>
internal sealed class SplitPreTokenizer(IPatternMatcher matcher, SplitBehavior behavior, bool invert) : PreTokenizer
{
    public IPatternMatcher Matcher => matcher;
    public SplitBehavior Behavior => behavior;
    public bool Invert => invert;

    [ThreadStatic] private static List<(int Start, int End, bool IsMatch)>? t_pieces;
    [ThreadStatic] private static List<(int Start, int End)>? t_matches;
    [ThreadStatic] private static List<(int Start, int End)>? t_kept;

    public override void Split(PreSplit split, List<PreSplit> output) => Apply(matcher, behavior, invert, split, output);

    public static void Apply(IPatternMatcher matcher, SplitBehavior behavior, bool invert, PreSplit split, List<PreSplit> output)
    {
        string s = split.Text;
        var matches = t_matches ??= new();
        var pieces = t_pieces ??= new();
        matches.Clear();
        pieces.Clear();
        matcher.FindMatches(s, matches);
        int prev = 0;
        foreach (var (start, end) in matches)
        {
            if (end == start) continue;
            if (prev != start) pieces.Add((prev, start, invert));
            pieces.Add((start, end, !invert));
            prev = end;
        }
        if (prev != s.Length) pieces.Add((prev, s.Length, invert));

        // Each behaviour folds (range, isMatch) into kept ranges, exactly as the Rust fold does.
        var kept = t_kept ??= new();
        kept.Clear();
        bool previousMatch = false;
        switch (behavior)
        {
            case SplitBehavior.Removed:
                foreach (var p in pieces) if (!p.IsMatch) kept.Add((p.Start, p.End));
                break;
            case SplitBehavior.Isolated:
                foreach (var p in pieces) kept.Add((p.Start, p.End));
                break;
            case SplitBehavior.MergedWithPrevious:
                foreach (var p in pieces)
                {
                    if (p.IsMatch && !previousMatch && kept.Count > 0) kept[^1] = (kept[^1].Start, p.End);
                    else kept.Add((p.Start, p.End));
                    previousMatch = p.IsMatch;
                }
                break;
            case SplitBehavior.MergedWithNext:
                for (int i = pieces.Count - 1; i >= 0; i--)
                {
                    var p = pieces[i];
                    if (p.IsMatch && !previousMatch && kept.Count > 0) kept[^1] = (p.Start, kept[^1].End);
                    else kept.Add((p.Start, p.End));
                    previousMatch = p.IsMatch;
                }
                kept.Reverse();
                break;
            case SplitBehavior.Contiguous:
                foreach (var p in pieces)
                {
                    if (p.IsMatch == previousMatch && kept.Count > 0) kept[^1] = (kept[^1].Start, p.End);
                    else kept.Add((p.Start, p.End));
                    previousMatch = p.IsMatch;
                }
                break;
        }
        foreach (var (start, end) in kept)
            if (end > start)
                output.Add(new PreSplit(start == 0 && end == s.Length ? s : s[start..end], split.AtStart && start == 0));
    }
}

/// <summary>ByteLevel: optional prefix space, optional GPT-2 regex split, then bytes mapped to the printable alphabet.</summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    public static readonly IPatternMatcher Gpt2 = PatternMatchers.ForRegex(PatternMatchers.Gpt2Pattern);
    public bool AddPrefixSpace => addPrefixSpace;
    public bool UseRegex => useRegex;
    [ThreadStatic] private static List<PreSplit>? t_tmp;

    public override void Split(PreSplit split, List<PreSplit> output)
    {
        if (addPrefixSpace && !split.Text.StartsWith(' ')) split = split with { Text = " " + split.Text };
        if (!useRegex) { output.Add(split with { Text = ToByteLevel(split.Text) }); return; }
        var tmp = t_tmp ??= new();
        tmp.Clear();
        SplitPreTokenizer.Apply(Gpt2, SplitBehavior.Isolated, false, split, tmp);
        foreach (var p in tmp) output.Add(p with { Text = ToByteLevel(p.Text) });
    }

    public static string ToByteLevel(string s)
    {
        if (System.Text.Ascii.IsValid(s))
        {
            // ASCII maps byte-for-byte; only non-printables change, so map in place.
            return string.Create(s.Length, s, static (dst, src) =>
            {
                for (int i = 0; i < src.Length; i++) dst[i] = ByteLevelAlphabet.ByteToChar[src[i]];
            });
        }
        Span<byte> stack = stackalloc byte[512];
        int max = Encoding.UTF8.GetMaxByteCount(s.Length);
        byte[]? rented = max > stack.Length ? System.Buffers.ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> bytes = rented ?? stack;
        int n = Encoding.UTF8.GetBytes(s, bytes);
        string result = string.Create(n, bytes[..n].ToArray(), static (dst, b) =>
        {
            for (int i = 0; i < b.Length; i++) dst[i] = ByteLevelAlphabet.ByteToChar[b[i]];
        });
        if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        return result;
    }
}

/// <summary>Metaspace: spaces become the replacement char, a prefix is added per prepend_scheme, optional split (MergedWithNext).</summary>
internal sealed class MetaspacePreTokenizer(char replacement, string prependScheme, bool split) : PreTokenizer
{
    private readonly IPatternMatcher _matcher = new LiteralMatcher(replacement.ToString());

    public override void Split(PreSplit piece, List<PreSplit> output)
    {
        string s = piece.Text.Replace(' ', replacement);
        bool prepend = prependScheme switch
        {
            "always" => true,
            "first" => piece.AtStart,
            _ => false,
        };
        if (prepend && !s.StartsWith(replacement)) s = replacement + s;
        var p = piece with { Text = s };
        if (split) SplitPreTokenizer.Apply(_matcher, SplitBehavior.MergedWithNext, false, p, output);
        else output.Add(p);
    }
}

/// <summary>Digits: numeric chars (Rust <c>char::is_numeric</c>: Nd, Nl, No) isolated one by one or as runs.</summary>
internal sealed class DigitsPreTokenizer(bool individual) : PreTokenizer
{
    private static readonly IPatternMatcher Numeric = new CharPredicateMatcher(static r =>
        Rune.GetUnicodeCategory(r) is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber);

    public override void Split(PreSplit split, List<PreSplit> output) =>
        SplitPreTokenizer.Apply(Numeric, individual ? SplitBehavior.Isolated : SplitBehavior.Contiguous, false, split, output);
}

/// <summary>Whitespace (<c>\w+|[^\w\s]+</c>, inverted and Removed) and WhitespaceSplit (split on White_Space, Removed).</summary>
internal sealed class WhitespacePreTokenizer(bool splitOnly) : PreTokenizer
{
    private static readonly IPatternMatcher Words = PatternMatchers.ForRegex(@"\w+|[^\w\s]+");
    private static readonly IPatternMatcher Spaces = new CharPredicateMatcher(static r => Rune.IsWhiteSpace(r));

    public override void Split(PreSplit split, List<PreSplit> output)
    {
        if (splitOnly) SplitPreTokenizer.Apply(Spaces, SplitBehavior.Removed, false, split, output);
        else SplitPreTokenizer.Apply(Words, SplitBehavior.Removed, true, split, output);
    }
}

internal sealed class SequencePreTokenizer(PreTokenizer[] items) : PreTokenizer
{
    public PreTokenizer[] Items => items;

    public override void Split(PreSplit split, List<PreSplit> output)
    {
        var pool = t_pool ??= new();
        var current = pool.Count > 0 ? pool.Pop() : new List<PreSplit>();
        var next = pool.Count > 0 ? pool.Pop() : new List<PreSplit>();
        current.Clear();
        current.Add(split);
        foreach (var pt in items)
        {
            next.Clear();
            foreach (var s in current) pt.Split(s, next);
            (current, next) = (next, current);
        }
        output.AddRange(current);
        current.Clear();
        next.Clear();
        pool.Push(current);
        pool.Push(next);
    }

    // Lists reused per thread; a stack, since a Sequence may hold a Sequence.
    [ThreadStatic] private static Stack<List<PreSplit>>? t_pool;
}
