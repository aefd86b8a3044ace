namespace PagedAttention.Text.Tokenization;

/// <summary>An entry of tokenizer.json's <c>added_tokens</c>.</summary>
internal sealed record AddedTokenInfo(int Id, string Content, bool Special, bool LStrip, bool RStrip, bool SingleWord, bool Normalized);

/// <summary>
/// Leftmost-longest matching of added tokens (what the Rust library's Aho-Corasick does), with the
/// single_word / lstrip / rstrip rules of its AddedVocabulary::find_matches.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private sealed class Node
    {
        public Dictionary<char, Node>? Children;
        public AddedTokenInfo? Token;
    }

    private readonly Node _root = new();
    private readonly bool[] _firstChar = new bool[char.MaxValue + 1];

    public AddedTokenMatcher(IEnumerable<(string Pattern, AddedTokenInfo Token)> tokens)
    {
        foreach (var (pattern, token) in tokens)
        {
            if (pattern.Length == 0) continue;
            var node = _root;
            foreach (char c in pattern)
            {
                node.Children ??= new();
                if (!node.Children.TryGetValue(c, out var child)) node.Children[c] = child = new Node();
                node = child;
            }
            node.Token ??= token;
            _firstChar[pattern[0]] = true;
            IsEmpty = false;
        }
    }

    public bool IsEmpty { get; } = true;

    /// <summary>Splits <paramref name="s"/> into text ranges (Token null) and matched tokens, in order.</summary>
    public void Split(string s, List<(int Start, int End, AddedTokenInfo? Token)> output) => Split(s, output, []);

    /// <summary>
    /// As <see cref="Split(string, List{ValueTuple{int, int, AddedTokenInfo}})"/>, but a special token that starts inside
    /// one of <paramref name="plainText"/> (sorted (start, length) ranges) is not matched: it stays text.
    /// </summary>
    public void Split(string s, List<(int Start, int End, AddedTokenInfo? Token)> output, ReadOnlySpan<(int Start, int Length)> plainText)
    {
        int startOffset = 0;
        int i = 0, range = 0;
        while (i < s.Length)
        {
            if (!_firstChar[s[i]]) { i++; continue; }
            AddedTokenInfo? found = null;
            int foundEnd = -1;
            var node = _root;
            for (int j = i; j < s.Length && node.Children is not null && node.Children.TryGetValue(s[j], out node); j++)
                if (node.Token is not null) { found = node.Token; foundEnd = j + 1; }
            if (found is null) { i++; continue; }
            if (found.Special && plainText.Length > 0)
            {
                while (range < plainText.Length && plainText[range].Start + plainText[range].Length <= i) range++;
                if (range < plainText.Length && plainText[range].Start <= i) { i++; continue; }
            }

            int start = i, stop = foundEnd;
            i = foundEnd;
            if (found.SingleWord)
            {
                bool startOk = start == 0 || !IsWordChar(s, start, before: true);
                bool stopOk = stop == s.Length || !IsWordChar(s, stop, before: false);
                if (!startOk || !stopOk) continue;
            }
            if (found.LStrip)
            {
                int ns = start;
                while (ns > 0 && char.IsWhiteSpace(s[ns - 1])) ns--;
                start = Math.Max(ns, startOffset);
            }
            if (found.RStrip)
                while (stop < s.Length && char.IsWhiteSpace(s[stop])) stop++;
            if (startOffset < start) output.Add((startOffset, start, null));
            output.Add((start, stop, found));
            startOffset = stop;
            i = stop;
        }
        if (startOffset < s.Length || s.Length == 0) output.Add((startOffset, s.Length, null));
    }

    // Rust's \w: alphanumeric, marks, connector punctuation.
    private static bool IsWordChar(string s, int index, bool before)
    {
        System.Text.Rune r;
        if (before) System.Text.Rune.DecodeLastFromUtf16(s.AsSpan(0, index), out r, out _);
        else System.Text.Rune.DecodeFromUtf16(s.AsSpan(index), out r, out _);
        return System.Text.Rune.IsLetterOrDigit(r) || r.Value == '_' ||
               System.Text.Rune.GetUnicodeCategory(r) is System.Globalization.UnicodeCategory.NonSpacingMark
                   or System.Globalization.UnicodeCategory.SpacingCombiningMark or System.Globalization.UnicodeCategory.ConnectorPunctuation
                   or System.Globalization.UnicodeCategory.LetterNumber or System.Globalization.UnicodeCategory.OtherNumber;
    }
}
