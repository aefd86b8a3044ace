using System.Text.Json.Nodes;

namespace PagedAttention.Tests.Constraints;

/// <summary>Realistic tool-argument schemas (Data/constraints/tool-schemas.json), shared with bench/MaskBench.</summary>
internal static class ToolSchemas
{
    public static IReadOnlyList<(string Name, string Schema)> All { get; } =
        JsonNode.Parse(File.ReadAllText(Path.Combine(TestData.Root, "constraints", "tool-schemas.json")))!.AsArray()
            .Select(n => (n!["name"]!.GetValue<string>(), n["schema"]!.ToJsonString())).ToList();
}
