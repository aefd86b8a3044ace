using System.Text.Json;

namespace PagedAttention.Server.Protocol;

/// <summary>
/// Typed, range-checked reads of a request's fields. A JSON null counts as absent (clients send nulls for unset
/// fields); a value of the wrong type or out of range is a 400 naming the field.
/// </summary>
internal static class Fields
{
    public static bool Has(JsonElement obj, string name, out JsonElement value) =>
        obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    public static double? Number(JsonElement obj, string name, double min, double max, bool minExclusive = false)
    {
        if (!Has(obj, name, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double x) || !double.IsFinite(x))
            throw OpenAIException.Invalid(name, $"'{name}' must be a number.");
        if (x > max || (minExclusive ? x <= min : x < min))
            throw OpenAIException.Invalid(name, $"'{name}' must be in {(minExclusive ? "(" : "[")}{min}, {max}], got {v.GetRawText()}.");
        return x;
    }

    public static long? Integer(JsonElement obj, string name, long min, long max)
    {
        if (!Has(obj, name, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Number) throw OpenAIException.Invalid(name, $"'{name}' must be an integer.");
        if (!v.TryGetInt64(out long x))
        {
            // An integer that does not fit 64 bits (or a fraction): say which.
            bool integral = v.TryGetDouble(out double d) && d == Math.Floor(d);
            throw OpenAIException.Invalid(name, integral ? $"'{name}' must be in [{min}, {max}], got {v.GetRawText()}." : $"'{name}' must be an integer, got {v.GetRawText()}.");
        }
        if (x < min || x > max) throw OpenAIException.Invalid(name, $"'{name}' must be in [{min}, {max}], got {x}.");
        return x;
    }

    public static bool? Bool(JsonElement obj, string name)
    {
        if (!Has(obj, name, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw OpenAIException.Invalid(name, $"'{name}' must be true or false."),
        };
    }

    public static string? String(JsonElement obj, string name)
    {
        if (!Has(obj, name, out var v)) return null;
        if (v.ValueKind != JsonValueKind.String) throw OpenAIException.Invalid(name, $"'{name}' must be a string.");
        return Text(v, name);
    }

    /// <summary>A string value; a lone surrogate escape (<c>\ud800</c>) is a 400, not a crash.</summary>
    public static string Text(JsonElement v, string param)
    {
        try { return v.GetString()!; }
        catch (InvalidOperationException e) { throw OpenAIException.Invalid(param, $"'{param}' is not valid text: {e.Message}"); }
    }

    public static JsonElement? Object(JsonElement obj, string name)
    {
        if (!Has(obj, name, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Object) throw OpenAIException.Invalid(name, $"'{name}' must be an object.");
        return v;
    }

    public static JsonElement? Array(JsonElement obj, string name)
    {
        if (!Has(obj, name, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Array) throw OpenAIException.Invalid(name, $"'{name}' must be an array.");
        return v;
    }

    /// <summary>"stop": a string or a list of at most <paramref name="maxCount"/> non-empty strings of at most <paramref name="maxLength"/> characters.</summary>
    public static List<string>? Stop(JsonElement obj, int maxCount, int maxLength)
    {
        if (!Has(obj, "stop", out var v)) return null;
        var list = new List<string>();
        if (v.ValueKind == JsonValueKind.String) list.Add(Text(v, "stop"));
        else if (v.ValueKind == JsonValueKind.Array)
            foreach (var e in v.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.String) throw OpenAIException.Invalid("stop", "'stop' must be a string or a list of strings.");
                list.Add(Text(e, "stop"));
            }
        else throw OpenAIException.Invalid("stop", "'stop' must be a string or a list of strings.");
        if (list.Count > maxCount) throw OpenAIException.Invalid("stop", $"'stop' holds at most {maxCount} sequences, got {list.Count}.");
        foreach (var s in list)
        {
            if (s.Length == 0) throw OpenAIException.Invalid("stop", "'stop' sequences must not be empty.");
            if (s.Length > maxLength) throw OpenAIException.Invalid("stop", $"'stop' sequences are at most {maxLength} characters, got one of {s.Length}.");
        }
        return list;
    }

    /// <summary>A list of token ids, each in [0, vocab).</summary>
    public static int[] TokenIds(JsonElement array, string param, int vocab)
    {
        var ids = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var e in array.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long id)) throw OpenAIException.Invalid(param, $"'{param}' must hold integer token ids.");
            if (id < 0 || id >= vocab) throw OpenAIException.Invalid(param, $"Token id {id} in '{param}' is outside the vocabulary [0, {vocab}).");
            ids[i++] = (int)id;
        }
        return ids;
    }
}
