using System.Numerics;
using System.Text.Json;

namespace PagedAttention.AI.Models;

/// <summary>One tensor entry of a safetensors header: dtype, shape and byte range within the data section.</summary>
internal sealed record SafeTensorsEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>
/// Validates a safetensors JSON header completely, as the format requires: valid UTF-8, every entry an object with a
/// known dtype, a shape of non-negative integers and integer <c>data_offsets</c> whose length is exactly element count
/// × dtype size, and the ranges, sorted by begin, tiling the data section exactly (the first begins at 0, each where
/// the previous ended, the last at the data length: no gap, no overlap, nothing past the end). A header length off by
/// one therefore fails here instead of loading every tensor a byte early.
/// </summary>
internal static class SafeTensorsHeader
{
    /// <summary>Most dimensions of one tensor (transformers' checkpoints use at most 5).</summary>
    public const int MaxRank = 16;

    public static List<SafeTensorsEntry> Parse(string path, ReadOnlySpan<byte> header, long dataLength)
    {
        ModelFiles.CheckUtf8(path, null, header);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header.ToArray()); }
        catch (JsonException e) { throw new ModelLoadException(path, null, $"malformed header JSON: {e.Message}", e); }
        var entries = new List<SafeTensorsEntry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelLoadException(path, null, "the header is not a JSON object.");
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__") { CheckMetadata(path, prop.Value); continue; }
                if (!names.Add(prop.Name)) throw new ModelLoadException(path, prop.Name, "appears twice in the header.");
                entries.Add(ParseEntry(path, prop.Name, prop.Value, dataLength));
            }
        }
        CheckTiling(path, entries, dataLength);
        return entries;
    }

    private static void CheckMetadata(string path, JsonElement m)
    {
        // The format defines __metadata__ as a map of strings to strings.
        if (m.ValueKind != JsonValueKind.Object || m.EnumerateObject().Any(p => p.Value.ValueKind != JsonValueKind.String))
            throw new ModelLoadException(path, null, "'__metadata__' must be an object of strings.");
    }

    private static SafeTensorsEntry ParseEntry(string path, string name, JsonElement e, long dataLength)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new ModelLoadException(path, name, "header entry is not an object.");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw new ModelLoadException(path, name, "header entry has no 'dtype' string.");
        string dtype = dt.GetString()!;
        int elementSize = ElementSize(dtype) ?? throw new ModelLoadException(path, name, $"unknown dtype '{dtype}'.");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw new ModelLoadException(path, name, "header entry has no 'shape' list.");
        if (sh.GetArrayLength() > MaxRank) throw new ModelLoadException(path, name, $"shape has {sh.GetArrayLength()} dimensions, more than the {MaxRank} supported.");
        var shape = new long[sh.GetArrayLength()];
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0) throw new ModelLoadException(path, name, $"shape {Raw(sh)} has an invalid dimension (each must be a non-negative integer).");
            shape[i++] = v;
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2
            || off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end))
            throw new ModelLoadException(path, name, $"header entry has no valid 'data_offsets' [begin, end] of two integers (found {(off.ValueKind == JsonValueKind.Undefined ? "none" : Raw(off))}).");
        if (begin < 0 || end < begin || end > dataLength)
            throw new ModelLoadException(path, name, $"data_offsets [{begin}, {end}] are out of range of the {dataLength}-byte data section.");
        // The product of the dimensions may exceed any integer type ([2^40, 2^40] of F32): compare exactly.
        BigInteger needed = elementSize;
        foreach (long d in shape) needed *= d;
        if (needed != end - begin)
            throw new ModelLoadException(path, name, $"data_offsets cover {end - begin} bytes but shape [{string.Join(", ", shape)}] of {dtype} needs {needed}.");
        return new SafeTensorsEntry(name, dtype, shape, begin, end);
    }

    private static void CheckTiling(string path, List<SafeTensorsEntry> entries, long dataLength)
    {
        var sorted = entries.OrderBy(t => t.Begin).ThenBy(t => t.End).ToArray();
        // Overlaps first: they name both tensors, which says more than the gap an overlap also leaves elsewhere.
        SafeTensorsEntry? last = null;
        foreach (var t in sorted)
        {
            if (t.End == t.Begin) continue;
            if (last is not null && t.Begin < last.End)
                throw new ModelLoadException(path, t.Name, $"data [{t.Begin}, {t.End}) overlaps tensor '{last.Name}' [{last.Begin}, {last.End}).");
            last = t;
        }
        long expected = 0;
        SafeTensorsEntry? previous = null;
        foreach (var t in sorted)
        {
            if (t.Begin != expected)
                throw new ModelLoadException(path, t.Name, previous is null
                    ? $"data begins at byte {t.Begin} of the data section, leaving a gap of {t.Begin} bytes before the first tensor; safetensors tensors must tile the data section exactly."
                    : $"data begins at byte {t.Begin}, but tensor '{previous.Name}' ends at {expected}: a gap of {t.Begin - expected} bytes; safetensors tensors must tile the data section exactly.");
            expected = t.End;
            previous = t;
        }
        if (expected != dataLength)
            throw new ModelLoadException(path, previous?.Name, $"the tensors end at byte {expected} but the data section holds {dataLength} bytes: " +
                $"{dataLength - expected} bytes follow the last tensor. The header length field or the file is wrong (safetensors tensors must tile the data section exactly).");
    }

    private static string Raw(JsonElement e)
    {
        string raw = e.GetRawText();
        return raw.Length <= 80 ? raw : raw[..80] + "…";
    }

    /// <summary>Bytes per element of a safetensors dtype, or null for an unknown one.</summary>
    public static int? ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => null,
    };
}
