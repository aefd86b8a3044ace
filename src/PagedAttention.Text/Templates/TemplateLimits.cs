namespace PagedAttention.Text.Templates;

/// <summary>
/// The budget of one <see cref="ChatTemplate.Render(System.Text.Json.Nodes.JsonObject, TimeProvider, TemplateLimits, CancellationToken)"/>:
/// a render that exceeds any limit ends in a <see cref="TemplateException"/> naming the limit, so a hostile or broken
/// template cannot hang a request or exhaust memory. The defaults are orders of magnitude above what real model
/// templates use (docs/reliability.md lists the measured margin).
/// </summary>
public sealed class TemplateLimits
{
    /// <summary>The defaults: 16 Mi output characters, 64 Mi allocated units, 1,000,000 iterations, 10 seconds.</summary>
    public static TemplateLimits Default { get; } = new();

    /// <summary>Most characters the rendered prompt may have (default 16 Mi, about 4 million tokens).</summary>
    public long MaxOutputLength { get; init; } = 16L * 1024 * 1024;

    /// <summary>
    /// Most units the render may create in total, counted before each value is built (so <c>'a' * 10**10</c> or
    /// <c>[1] * 10**9</c> fail before allocating): a string character is one unit, a list or tuple element eight
    /// (a reference and a boxed value). Default 64 Mi units, about 128 MiB of churn at most.
    /// </summary>
    public long MaxAllocatedLength { get; init; } = 64L * 1024 * 1024;

    /// <summary>Most for-loop iterations plus macro calls in one render (default 1,000,000).</summary>
    public long MaxIterations { get; init; } = 1_000_000;

    /// <summary>Longest wall-clock time one render may take, measured with the render's <see cref="TimeProvider"/> (default 10 s).</summary>
    public TimeSpan MaxRenderTime { get; init; } = TimeSpan.FromSeconds(10);
}
