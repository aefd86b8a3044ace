using System.Text.Json.Nodes;

namespace PagedAttention.Tests.Templates;

/// <summary>Loads the goldens written by tools/template-goldens/generate.py (Python Jinja2, configured like transformers).</summary>
internal static class TemplateTestData
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Data", "templates");

    public static JsonNode Load(string relative) => JsonNode.Parse(File.ReadAllText(Path.Combine(Dir, relative)))!;

    public static string Source(string name) => File.ReadAllText(Path.Combine(Dir, "sources", name + ".jinja"));

    /// <summary>The clock the generator pins strftime_now to: 2024-07-26 12:00 (local = UTC here).</summary>
    public static TimeProvider Clock { get; } = new FixedClock();

    private sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2024, 7, 26, 12, 0, 0, TimeSpan.Zero);

        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }
}
