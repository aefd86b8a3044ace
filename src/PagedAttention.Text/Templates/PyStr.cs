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

    /// <summary>printf-style <c>"%s" % x</c> for the conversions templates use (%s %d %i %r %f %%).</summary>
    public static string PercentFormat(string fmt, object? args)
    {
        var values = args is object?[] t ? t : [args];
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = fmt[i];
            if (c != '%') { sb.Append(c); continue; }
            if (++i >= fmt.Length) throw PyOps.Fail("incomplete format");
            int specStart = i;
            while (i < fmt.Length && "0123456789.-+ #".Contains(fmt[i])) i++;
            string spec = fmt[specStart..i];
            char conv = fmt[i];
            if (conv == '%') { sb.Append('%'); continue; }
            if (next >= values.Length) throw PyOps.Fail("not enough arguments for format string");
            object? v = values[next++];
            sb.Append(conv switch
            {
                's' => PyFormat.Str(v),
                'r' => PyFormat.Repr(v),
                'd' or 'i' => v is double d ? ((long)Math.Truncate(d)).ToString(CultureInfo.InvariantCulture) : PyFormat.Str(v),
                'f' => Convert.ToDouble(v is bool b ? (b ? 1 : 0) : v, CultureInfo.InvariantCulture)
                    .ToString("F" + (spec.Contains('.') ? spec[(spec.IndexOf('.') + 1)..] : "6"), CultureInfo.InvariantCulture),
                _ => throw PyOps.Fail($"unsupported format character '{conv}'"),
            });
        }
        return sb.ToString();
    }

    /// <summary>str.format with positional {} / {0} and keyword {name} fields (no format specs).</summary>
    public static string Format(string fmt, List<object?> args, List<KeyValuePair<string, object?>>? kwargs)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = fmt[i];
            if (c == '{' && i + 1 < fmt.Length && fmt[i + 1] == '{') { sb.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < fmt.Length && fmt[i + 1] == '}') { sb.Append('}'); i++; continue; }
            if (c != '{') { sb.Append(c); continue; }
            int end = fmt.IndexOf('}', i);
            if (end < 0) throw PyOps.Fail("Single '{' encountered in format string");
            string field = fmt[(i + 1)..end];
            object? v;
            if (field.Length == 0) v = auto < args.Count ? args[auto++] : throw PyOps.Fail("Replacement index out of range");
            else if (int.TryParse(field, out int idx)) v = idx < args.Count ? args[idx] : throw PyOps.Fail("Replacement index out of range");
            else v = kwargs?.FirstOrDefault(k => k.Key == field).Value ?? throw PyOps.Fail($"KeyError: '{field}'");
            sb.Append(PyFormat.Str(v));
            i = end;
        }
        return sb.ToString();
    }
}
