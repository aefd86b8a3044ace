namespace PagedAttention.AI.Observability;

/// <summary>
/// The names under which every <see cref="Engine.LlmEngine"/> reports: one <see cref="System.Diagnostics.Metrics.Meter"/>
/// with vLLM's metric meanings (docs/server.md, "Metrics") and one <see cref="System.Diagnostics.ActivitySource"/> with a
/// span per request. Subscribe with OpenTelemetry (<c>AddMeter(MeterName)</c>, <c>AddSource(ActivitySourceName)</c>) or a
/// <see cref="System.Diagnostics.Metrics.MeterListener"/>; nothing is measured beyond a counter update while nobody listens.
/// </summary>
public static class PagedAttentionTelemetry
{
    /// <summary>The meter's name: "PagedAttention.AI".</summary>
    public const string MeterName = "PagedAttention.AI";

    /// <summary>The activity source's name: "PagedAttention.AI".</summary>
    public const string ActivitySourceName = "PagedAttention.AI";

    /// <summary>The tag on every measurement and span naming the engine's model (its directory name).</summary>
    public const string ModelTag = "model";

    /// <summary>The tag of <c>pagedattention.requests.finished</c>: stop, length, abort or error.</summary>
    public const string FinishedReasonTag = "finished_reason";
}
