using System.Globalization;
using System.Numerics;
using System.Text;

namespace PagedAttention.Text.Templates;

/// <summary>
/// transformers' tojson: Python <c>json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)</c>.
/// Keys keep insertion order, floats print as Python reprs (21.0 stays 21.0), nothing is HTML-escaped.
/// </summary>
internal static class JsonDump
{
    public static string Dump(object? value, object? indent, object? separators, bool ensureAscii, bool sortKeys)
    {
        string? ind = indent switch
        {
            null or Undefined => null,
            long or BigInteger or bool => Spaces(PyInt.Clamp(indent)),
            string s => s,
            _ => throw PyOps.Fail("indent must be an int or a string"),
        };
        string itemSep = ind is null ? ", " : ",", keySep = ": ";
        if (separators is object?[] or List<object?>)
        {
            var parts = PyOps.AsList(separators);
            itemSep = PyFormat.Str(parts[0]);
            keySep = PyFormat.Str(parts[1]);
        }
        var sb = new StringBuilder();
        new Writer(sb, ind, itemSep, keySep, ensureAscii, sortKeys).Write(value, 0);
        return sb.ToString();
    }

    private static string Spaces(long n)
    {
        RenderState.Charge(n); // tojson(indent=10**9) fails here, before allocating
        return new string(' ', (int)Math.Max(0, n));
    }

    private sealed class Writer(StringBuilder sb, string? indent, string itemSep, string keySep, bool ensureAscii, bool sortKeys)
    {
        public void Write(object? v, int depth)
        {
            System.Runtime.CompilerServices.RuntimeHelpers.EnsureSufficientExecutionStack(); // deeply nested context data
            switch (v)
            {
                case null: sb.Append("null"); break;
                case bool b: sb.Append(b ? "true" : "false"); break;
                case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
                case BigInteger bi: sb.Append(bi.ToString(CultureInfo.InvariantCulture)); break;
                case double d: sb.Append(Float(d)); break;
                case string s: WriteString(s); break;
                case List<object?> or object?[]: WriteList(PyOps.AsList(v), depth); break;
                case PyDict dict: WriteDict(dict, depth); break;
                default: throw PyOps.Fail($"Object of type {PyOps.TypeName(v)} is not JSON serializable");
            }
        }

        private static string Float(double d) =>
            double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyFormat.FloatRepr(d);

        private void NewLine(int depth)
        {
            RenderState.Charge(depth, indent!.Length); // deep nesting times a wide indent
            sb.Append('\n');
            for (int i = 0; i < depth; i++) sb.Append(indent);
        }

        private void WriteList(IReadOnlyList<object?> items, int depth)
        {
            if (items.Count == 0) { sb.Append("[]"); return; }
            sb.Append('[');
            for (int i = 0; i < items.Count; i++)
            {
                if (i > 0) sb.Append(itemSep);
                if (indent is not null) NewLine(depth + 1);
                Write(items[i], depth + 1);
            }
            if (indent is not null) NewLine(depth);
            sb.Append(']');
        }

        private void WriteDict(PyDict dict, int depth)
        {
            if (dict.Count == 0) { sb.Append("{}"); return; }
            IEnumerable<KeyValuePair<object, object?>> pairs = dict.Items;
            if (sortKeys) pairs = pairs.OrderBy(kv => KeyString(kv.Key), StringComparer.Ordinal);
            sb.Append('{');
            bool first = true;
            foreach (var kv in pairs)
            {
                if (!first) sb.Append(itemSep);
                first = false;
                if (indent is not null) NewLine(depth + 1);
                WriteString(KeyString(kv.Key));
                sb.Append(keySep);
                Write(kv.Value, depth + 1);
            }
            if (indent is not null) NewLine(depth);
            sb.Append('}');
        }

        private static string KeyString(object key) => key switch
        {
            string s => s,
            bool b => b ? "true" : "false",
            long or BigInteger => PyFormat.Str(key),
            double d => Float(d),
            _ => throw PyOps.Fail($"keys must be str, int, float, bool or None, not {PyOps.TypeName(key)}"),
        };

        private void WriteString(string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || (ensureAscii && c > 0x7e))
                            sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }
    }
}
