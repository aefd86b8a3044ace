using System.Text.Json;
using System.Text.Json.Nodes;

namespace PagedAttention.AI.Constraints;

/// <summary>
/// Intersects schemas (for <c>allOf</c>, and for <c>anyOf</c>/<c>oneOf</c> branches with sibling keywords) into one
/// schema object where the keywords allow it: types intersect, properties and required unite, bounds tighten, items
/// and common properties nest as <c>allOf</c>. A combination it cannot express (two different patterns,
/// additionalProperties against foreign properties, nested anyOf in both) is a <see cref="GrammarCompileException"/>.
/// </summary>
internal static class JsonSchemaMerger
{
    private static readonly HashSet<string> Lower = ["minimum", "minLength", "minItems", "minProperties"];
    private static readonly HashSet<string> Upper = ["maximum", "maxLength", "maxItems", "maxProperties"];

    public static JsonObject Merge(JsonObject a, JsonObject b, string pointer)
    {
        var r = (JsonObject)a.DeepClone();
        foreach (var (k, vb) in b)
        {
            if (!r.TryGetPropertyValue(k, out var va)) { r[k] = vb?.DeepClone(); continue; }
            if (JsonNode.DeepEquals(va, vb)) continue;
            if (JsonSchemaCompiler.Annotations.Contains(k)) continue;
            switch (k)
            {
                case "type":
                    var ta = Types(va); var tb = Types(vb);
                    var t = new JsonArray();
                    foreach (var x in ta)
                        if (tb.Contains(x)) t.Add(x);
                        else if (x == "integer" && tb.Contains("number")) t.Add("integer");
                        else if (x == "number" && tb.Contains("integer")) t.Add("integer");
                    if (t.Count == 0) throw new GrammarCompileException("type", pointer, "allOf branches have no type in common (unsatisfiable)");
                    r[k] = t;
                    break;
                case "properties":
                    var pa = (JsonObject)r[k]!;
                    foreach (var (pk, pv) in (JsonObject)vb!)
                        pa[pk] = pa.TryGetPropertyValue(pk, out var old) ? new JsonObject { ["allOf"] = new JsonArray(old?.DeepClone(), pv?.DeepClone()) } : pv?.DeepClone();
                    break;
                case "required":
                    var req = (JsonArray)r[k]!;
                    var names = req.Select(n => n!.GetValue<string>()).ToHashSet();
                    foreach (var n in (JsonArray)vb!) if (names.Add(n!.GetValue<string>())) req.Add(n.GetValue<string>());
                    break;
                case "items" when va is JsonObject or JsonValue && vb is JsonObject or JsonValue:
                case "additionalProperties":
                    r[k] = new JsonObject { ["allOf"] = new JsonArray(va?.DeepClone(), vb?.DeepClone()) };
                    break;
                case "enum":
                    var eb = ((JsonArray)vb!).Select(JsonCanonical.Value).ToHashSet();
                    var e = new JsonArray(((JsonArray)va!).Where(v => eb.Contains(JsonCanonical.Value(v))).Select(v => v?.DeepClone()).ToArray());
                    if (e.Count == 0) throw new GrammarCompileException("enum", pointer, "allOf branches share no enum value (unsatisfiable)");
                    r[k] = e;
                    break;
                case "const": throw new GrammarCompileException("const", pointer, "allOf branches with different consts (unsatisfiable)");
                default:
                    if (Lower.Contains(k) && IsNumber(va) && IsNumber(vb)) r[k] = va!.GetValue<double>() >= vb!.GetValue<double>() ? va.DeepClone() : vb.DeepClone();
                    else if (Upper.Contains(k) && IsNumber(va) && IsNumber(vb)) r[k] = va!.GetValue<double>() <= vb!.GetValue<double>() ? va.DeepClone() : vb.DeepClone();
                    else throw new GrammarCompileException(k, pointer, "cannot combine two different values of this keyword in allOf");
                    break;
            }
        }
        // additionalProperties only sees its own schema's properties: merging is exact only if the other side adds none.
        CheckAdditional(a, b, pointer);
        CheckAdditional(b, a, pointer);
        return r;
    }

    private static void CheckAdditional(JsonObject withAdditional, JsonObject other, string pointer)
    {
        if (!withAdditional.TryGetPropertyValue("additionalProperties", out var ap) || ap is JsonValue v && v.GetValueKind() == JsonValueKind.True) return;
        var own = withAdditional["properties"] as JsonObject;
        if (other["properties"] is JsonObject op && op.Any(p => own is null || !own.ContainsKey(p.Key)))
            throw new GrammarCompileException("additionalProperties", pointer, "allOf where one branch's additionalProperties would judge another branch's properties");
    }

    private static bool IsNumber(JsonNode? n) => n is JsonValue v && v.GetValueKind() == JsonValueKind.Number;

    public static List<string> Types(JsonNode? t) => t switch
    {
        JsonArray a => a.Select(x => x!.GetValue<string>()).ToList(),
        JsonValue v => [v.GetValue<string>()],
        _ => [],
    };
}
