using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PagedAttention.Text.Templates;

/// <summary>
/// Converts the System.Text.Json context into template values the way Python's json.load would:
/// integers stay exact (big ones too), numbers with a fraction or exponent become floats, objects keep key order.
/// </summary>
internal static class JsonValues
{
    public static object? FromNode(JsonNode? node)
    {
        System.Runtime.CompilerServices.RuntimeHelpers.EnsureSufficientExecutionStack(); // a JsonObject built in code can nest without limit
        switch (node)
        {
            case null: return null;
            case JsonObject obj:
                {
                    var d = new PyDict(obj.Count);
                    foreach (var kv in obj) d.Set(kv.Key, FromNode(kv.Value));
                    return d;
                }
            case JsonArray arr:
                {
                    var list = new List<object?>(arr.Count);
                    foreach (var item in arr) list.Add(FromNode(item));
                    return list;
                }
            case JsonValue v: return FromValue(v);
            default: throw new ArgumentException($"Unsupported JSON node {node.GetType().Name}");
        }
    }

    private static object? FromValue(JsonValue v)
    {
        if (v.TryGetValue<JsonElement>(out var el)) return FromElement(el);
        if (v.TryGetValue<string>(out var s)) return s;
        if (v.TryGetValue<bool>(out var b)) return b;
        if (v.TryGetValue<long>(out var l)) return l;
        if (v.TryGetValue<int>(out var i)) return (long)i;
        if (v.TryGetValue<double>(out var d)) return d;
        if (v.TryGetValue<float>(out var f)) return (double)f;
        if (v.TryGetValue<decimal>(out var m)) return (double)m;
        if (v.TryGetValue<char>(out var c)) return c.ToString();
        // Anything else (e.g. a DateTime) becomes its JSON text, as the caller would serialise it.
        return FromElement(JsonSerializer.SerializeToElement(v));
    }

    private static object? FromElement(JsonElement el)
    {
        switch (el.ValueKind)
        {
            case JsonValueKind.String: return el.GetString();
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.Null or JsonValueKind.Undefined: return null;
            case JsonValueKind.Number:
                {
                    string raw = el.GetRawText();
                    if (raw.AsSpan().IndexOfAny(".eE") >= 0) return double.Parse(raw, CultureInfo.InvariantCulture);
                    if (long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
                    return PyInt.Norm(BigInteger.Parse(raw, CultureInfo.InvariantCulture));
                }
            case JsonValueKind.Array:
                {
                    var list = new List<object?>(el.GetArrayLength());
                    foreach (var item in el.EnumerateArray()) list.Add(FromElement(item));
                    return list;
                }
            case JsonValueKind.Object:
                {
                    var d = new PyDict();
                    foreach (var p in el.EnumerateObject()) d.Set(p.Name, FromElement(p.Value));
                    return d;
                }
            default: return null;
        }
    }
}
