using System.Globalization;
using System.Text;

namespace PagedAttention.Text.Templates;

/// <summary>Python str behaviour on .NET strings: code-point length and indexing, strip with char sets, split, title.</summary>
internal static class PyStr
{
    public static long Length(string s)
    {
        long n = s.Length;
        foreach (char c in s) if (char.IsHighSurrogate(c)) n--;
        return n;
    }

    public static List<object?> Chars(string s)
    {
        RenderState.ChargeItems(s.Length);
        var list = new List<object?>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                list.Add(s.Substring(i, 2));
                i++;
            }
            else list.Add(s[i].ToString());
        }
        return list;
    }

    /// <summary>sep.join(items): the result length is charged before it is built.</summary>
    public static string Join(string sep, IReadOnlyList<object?> items)
    {
        var parts = new string[items.Count];
        long total = items.Count > 1 ? (long)sep.Length * (items.Count - 1) : 0;
        for (int i = 0; i < parts.Length; i++)
        {
            parts[i] = items[i] as string ?? throw PyOps.Fail($"sequence item {i}: expected str instance, {PyOps.TypeName(items[i])} found");
            total += parts[i].Length;
        }
        RenderState.Charge(total);
        return string.Join(sep, parts);
    }

    /// <summary>Python's slice-bound normalisation for str.find/count: code-point indices, negative from the end, clamped.</summary>
    private static (long Start, long End) Window(long n, object? start, object? end)
    {
        long a = start is null or Undefined ? 0 : PyInt.IsInt(start) ? PyInt.Clamp(start) : throw PyOps.Fail("slice indices must be integers or None or have an __index__ method");
        long b = end is null or Undefined ? n : PyInt.IsInt(end) ? PyInt.Clamp(end) : throw PyOps.Fail("slice indices must be integers or None or have an __index__ method");
        if (a < 0) a = Math.Max(0, a + n);
        if (b < 0) b = Math.Max(0, b + n);
        return (a, Math.Min(b, n));
    }

    // UTF-16 offset of a code-point index (strings without surrogates map 1:1).
    private static int Offset(string s, long cp)
    {
        int i = 0;
        for (long k = 0; k < cp && i < s.Length; k++) i += char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1;
        return i;
    }

    private static bool HasSurrogates(string s) => s.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;

    /// <summary>str.find / str.rfind with Python's start and end (code-point indices); -1 when absent.</summary>
    public static long Find(string s, string sub, object? start, object? end, bool last)
    {
        bool wide = HasSurrogates(s);
        long n = wide ? Length(s) : s.Length;
        var (a, b) = Window(n, start, end);
        if (a > n || b - a < (wide ? Length(sub) : sub.Length)) return -1; // CPython: 'abc'.find('', 10) == -1
        int oa = wide ? Offset(s, a) : (int)a, ob = wide ? Offset(s, b) : (int)b;
        int k = last ? s.AsSpan(oa, ob - oa).LastIndexOf(sub, StringComparison.Ordinal) : s.AsSpan(oa, ob - oa).IndexOf(sub, StringComparison.Ordinal);
        if (k < 0) return -1;
        return wide ? Length(s[..(oa + k)]) : oa + k;
    }

    /// <summary>str.count with Python's start and end.</summary>
    public static long Count(string s, string sub, object? start, object? end)
    {
        bool wide = HasSurrogates(s);
        long n = wide ? Length(s) : s.Length;
        var (a, b) = Window(n, start, end);
        if (a > n || b < a) return 0;
        int oa = wide ? Offset(s, a) : (int)a, ob = wide ? Offset(s, b) : (int)b;
        var w = s.AsSpan(oa, ob - oa);
        if (sub.Length == 0) return (wide ? Length(w.ToString()) : w.Length) + 1;
        long count = 0;
        for (int i = w.IndexOf(sub, StringComparison.Ordinal); i >= 0;)
        {
            count++;
            int next = w[(i + sub.Length)..].IndexOf(sub, StringComparison.Ordinal);
            if (next < 0) break;
            i += sub.Length + next;
        }
        return count;
    }

    /// <summary>str.ljust / str.rjust: pads to <paramref name="width"/> code points; the padding is charged first.</summary>
    public static string Pad(string s, long width, char fill, bool left)
    {
        long pad = width - Length(s);
        if (pad <= 0) return s;
        RenderState.Charge(pad + s.Length);
        var p = new string(fill, (int)pad);
        return left ? p + s : s + p;
    }

    /// <summary>str.zfill: zeros after a leading sign.</summary>
    public static string ZFill(string s, long width)
    {
        long pad = width - Length(s);
        if (pad <= 0) return s;
        RenderState.Charge(pad + s.Length);
        var zeros = new string('0', (int)pad);
        return s.Length > 0 && s[0] is '+' or '-' ? s[0] + zeros + s[1..] : zeros + s;
    }

    // Python's str.isspace() set (what strip()/split() without arguments remove).
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is '\x1c' or '\x1d' or '\x1e' or '\x1f';

    public static string Strip(string s, string? chars, bool left, bool right)
    {
        int a = 0, b = s.Length;
        Func<char, bool> drop = chars is null ? IsSpace : c => chars.Contains(c);
        if (left) while (a < b && drop(s[a])) a++;
        if (right) while (b > a && drop(s[b - 1])) b--;
        return s[a..b];
    }

    public static List<object?> Split(string s, string? sep, long maxsplit)
    {
        var result = new List<object?>();
        if (sep is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && IsSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxsplit >= 0 && result.Count == maxsplit)
                {
                    result.Add(s[i..].TrimEnd().Length == 0 ? s[i..] : Strip(s[i..], null, false, true));
                    break;
                }
                int j = i;
                while (j < s.Length && !IsSpace(s[j])) j++;
                result.Add(s[i..j]);
                i = j;
            }
            return result;
        }
        if (sep.Length == 0) throw PyOps.Fail("empty separator");
        int start = 0;
        while (maxsplit < 0 || result.Count < maxsplit)
        {
            int k = s.IndexOf(sep, start, StringComparison.Ordinal);
            if (k < 0) break;
            result.Add(s[start..k]);
            start = k + sep.Length;
        }
        result.Add(s[start..]);
        return result;
    }

    /// <summary>Python str.title(): upper-case a letter that follows a non-letter, lower-case the rest.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool prevCased = false;
        foreach (char c in s)
        {
            sb.Append(prevCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            prevCased = char.IsLetter(c);
        }
        return sb.ToString();
    }

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
}
