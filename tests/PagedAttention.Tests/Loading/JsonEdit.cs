using System.Text.Json.Nodes;

namespace PagedAttention.Tests.Loading;

/// <summary>Edits a JSON tree at a '/'-separated path (object keys or array indexes; the last segment is set, or removed for null).</summary>
internal static class JsonEdit
{
    public static void Set(JsonNode root, string path, JsonNode? value, bool remove = false)
    {
        var parts = path.Trim('/').Split('/');
        JsonNode node = root;
        foreach (var p in parts[..^1])
            node = node is JsonArray a ? a[int.Parse(p, System.Globalization.CultureInfo.InvariantCulture)]! : node[p]!;
        string last = parts[^1];
        if (node is JsonArray arr)
        {
            int i = int.Parse(last, System.Globalization.CultureInfo.InvariantCulture);
            if (remove) arr.RemoveAt(i);
            else arr[i] = value;
        }
        else if (remove) node.AsObject().Remove(last);
        else node[last] = value;
    }
}
