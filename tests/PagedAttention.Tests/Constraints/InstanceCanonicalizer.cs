using System.Text.Json.Nodes;

namespace PagedAttention.Tests.Constraints;

/// <summary>
/// Reorders an instance's object members into the order the compiled grammar generates (listed properties in schema
/// order — allOf members first, then the schema's own — then the others as they were), following $ref, properties,
/// additionalProperties and items. Grammars generate one order, so a valid instance is fed in that order.
/// </summary>
internal static class InstanceCanonicalizer
{
    public static JsonNode? Reorder(JsonNode? inst, JsonNode? schema, JsonNode root, int depth = 0)
    {
        schema = Deref(schema, root);
        if (depth > 64 || schema is not JsonObject s) return inst?.DeepClone();
        switch (inst)
        {
            case JsonObject o:
            {
                var order = new List<(string Name, JsonNode? Schema)>();
                CollectProperties(s, root, order, 0);
                var r = new JsonObject();
                foreach (var (name, ps) in order)
                    if (o.TryGetPropertyValue(name, out var v) && !r.ContainsKey(name)) r[name] = Reorder(v, ps, root, depth + 1);
                var additional = s["additionalProperties"];
                foreach (var (k, v) in o)
                    if (!r.ContainsKey(k)) r[k] = Reorder(v, additional, root, depth + 1);
                return r;
            }
            case JsonArray a:
            {
                var r = new JsonArray();
                for (int i = 0; i < a.Count; i++)
                {
                    JsonNode? itemSchema = s["items"] is JsonArray tuple ? (i < tuple.Count ? tuple[i] : s["additionalItems"]) : s["items"];
                    r.Add(Reorder(a[i], itemSchema, root, depth + 1));
                }
                return r;
            }
            default: return inst?.DeepClone();
        }
    }

    private static void CollectProperties(JsonObject s, JsonNode root, List<(string, JsonNode?)> order, int depth)
    {
        if (depth > 16) return;
        if (s["allOf"] is JsonArray all)
            foreach (var part in all)
                if (Deref(part, root) is JsonObject po) CollectProperties(po, root, order, depth + 1);
        if (s["properties"] is JsonObject props)
            foreach (var (k, v) in props) order.Add((k, v));
        if (s["required"] is JsonArray req)
            foreach (var n in req) order.Add((n!.GetValue<string>(), s["additionalProperties"]));
    }

    private static JsonNode? Deref(JsonNode? schema, JsonNode root)
    {
        for (int i = 0; i < 16 && schema is JsonObject o && o["$ref"] is JsonValue rv && rv.GetValue<string>().StartsWith('#'); i++)
        {
            JsonNode? cur = root;
            string path = Uri.UnescapeDataString(rv.GetValue<string>()[1..]);
            if (path.Length > 0)
                foreach (var raw in path[1..].Split('/'))
                {
                    string part = raw.Replace("~1", "/").Replace("~0", "~");
                    cur = cur is JsonObject co ? co[part] : cur is JsonArray ca && int.TryParse(part, out int idx) && idx < ca.Count ? ca[idx] : null;
                }
            schema = cur;
        }
        return schema;
    }
}
