using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Observability;

namespace PagedAttention.Tests.Engine;

/// <summary>The library's own observability: the meter's request histograms and finish reasons, the span per request, the stats log line.</summary>
public sealed class EngineTelemetryTests
{
    private sealed class ListLogger : ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) => Lines.Enqueue(formatter(state, exception));
    }

    [Fact]
    public async Task Requests_AreMeasured_Traced_AndSummarisedInTheLog()
    {
        var logger = new ListLogger();
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions
        {
            ModelPath = TestData.Model("llama"), NumKvBlocks = 64, Logger = logger, StatsLogInterval = TimeSpan.FromMilliseconds(50),
        });
        string model = Path.GetFileName(engine.Model.Directory.TrimEnd('/'));
        var measured = new ConcurrentQueue<(string Instrument, double Value, string? Reason)>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (i, l) => { if (i.Meter.Name == PagedAttentionTelemetry.MeterName) l.EnableMeasurementEvents(i); };
        void Record(Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? reason = null, m = null;
            foreach (var t in tags) { if (t.Key == PagedAttentionTelemetry.FinishedReasonTag) reason = (string?)t.Value; if (t.Key == PagedAttentionTelemetry.ModelTag) m = (string?)t.Value; }
            if (m == model) measured.Enqueue((i.Name, v, reason));
        }
        meters.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        meters.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        meters.Start();
        var spans = new ConcurrentQueue<Activity>();
        // Other tests run the same model in parallel: only this test's requests (children of this trace) count.
        using var parent = new Activity(nameof(EngineTelemetryTests)).Start();
        using var activities = new ActivityListener
        {
            ShouldListenTo = s => s.Name == PagedAttentionTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { if (a.TraceId == parent.TraceId && a.GetTagItem("gen_ai.request.model") as string == model) spans.Enqueue(a); },
        };
        ActivitySource.AddActivityListener(activities);

        var outputs = await EngineTestKit.Collect(engine, [5, 6, 7, 8], EngineTestKit.Greedy(6));
        Assert.Equal(6, outputs.Count);
        using (var cts = new CancellationTokenSource())
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var _ in engine.GenerateAsync([5, 6, 7], EngineTestKit.Greedy(400), cts.Token)) cts.Cancel();
            });
        meters.RecordObservableInstruments();

        Assert.Contains(measured, m => m.Instrument == "pagedattention.time_to_first_token" && m.Value > 0);
        Assert.Contains(measured, m => m.Instrument == "pagedattention.time_per_output_token" && m.Value > 0);
        Assert.Contains(measured, m => m.Instrument == "pagedattention.e2e_request_latency" && m.Value > 0);
        Assert.Contains(measured, m => m.Instrument == "pagedattention.requests.finished" && m.Reason == "length");
        Assert.Contains(measured, m => m.Instrument == "pagedattention.requests.finished" && m.Reason == "abort");
        Assert.Contains(measured, m => m.Instrument == "pagedattention.generation_tokens" && m.Value >= 6);
        Assert.Contains(measured, m => m.Instrument == "pagedattention.prompt_tokens" && m.Value == 7);
        var span = Assert.Single(spans, s => s.GetTagItem("pagedattention.outcome") as string == "finished");
        Assert.Equal(6, span.GetTagItem("gen_ai.usage.output_tokens"));
        Assert.Equal(4, span.GetTagItem("gen_ai.usage.input_tokens"));
        Assert.Contains(spans, s => s.GetTagItem("pagedattention.outcome") as string == "abort");

        for (int i = 0; i < 100 && !logger.Lines.Any(l => l.Contains("avg generation throughput")); i++) await Task.Delay(20);
        Assert.Contains(logger.Lines, l => l.Contains("avg generation throughput") && l.Contains("KV cache usage"));
        Assert.Contains(logger.Lines, l => l.Contains("PagedAttention: loaded"));
    }
}
