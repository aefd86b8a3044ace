using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PagedAttention.AI.Constraints;

/// <summary>
/// The one JSON spelling grammars generate for a literal value (enum, const, property names): compact, strings with
/// only the escapes JSON requires (short forms for \b \f \n \r \t, <c>\u00xx</c> for other controls, <c>\"</c>
/// and <c>\\</c>), everything else raw UTF-8, numbers as written in the schema.
/// </summary>
internal static class JsonCanonical
{
    public static string String(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case < ' ': sb.Append("\\u").Append(((int)c).ToString("x4")); break;
                default: sb.Append(c); break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Compact text of a value; object members in their order.</summary>
    public static string Value(JsonNode? v)
    {
        var sb = new StringBuilder();
        Write(v, sb);
        return sb.ToString();
    }

    private static void Write(JsonNode? v, StringBuilder sb)
    {
        switch (v)
        {
            case null: sb.Append("null"); break;
            case JsonObject o:
                sb.Append('{');
                bool first = true;
                foreach (var (k, x) in o)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    sb.Append(String(k)).Append(':');
                    Write(x, sb);
                }
                sb.Append('}');
                break;
            case JsonArray a:
                sb.Append('[');
                for (int i = 0; i < a.Count; i++) { if (i > 0) sb.Append(','); Write(a[i], sb); }
                sb.Append(']');
                break;
            default:
                if (v.GetValueKind() == JsonValueKind.String) sb.Append(String(v.GetValue<string>()));
                else sb.Append(v.ToJsonString());
                break;
        }
    }
}
