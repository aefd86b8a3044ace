using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace PagedAttention.AI.Observability;

/// <summary>
/// The library's meter and activity source, shared by every engine of the process. Gauges and counters the engine
/// already keeps are observed (read when a listener collects, never written twice); per-request latencies are
/// histograms recorded once per request; finished requests are counted by reason. Engines register while they run.
/// </summary>
internal static class EngineInstruments
{
    public static readonly Meter Meter = new(PagedAttentionTelemetry.MeterName);
    public static readonly ActivitySource Source = new(PagedAttentionTelemetry.ActivitySourceName);

    private static readonly object Gate = new();
    private static Registration[] _engines = [];

    /// <summary>Seconds from submission to the first token.</summary>
    public static readonly Histogram<double> TimeToFirstToken = Meter.CreateHistogram<double>("pagedattention.time_to_first_token", "s",
        "Time from a request's submission to its first output token (vLLM: time_to_first_token_seconds).",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80] });

    /// <summary>Mean seconds between output tokens after the first, per request.</summary>
    public static readonly Histogram<double> TimePerOutputToken = Meter.CreateHistogram<double>("pagedattention.time_per_output_token", "s",
        "Mean time between a request's output tokens after the first (vLLM: time_per_output_token_seconds).",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5] });

    /// <summary>Seconds from submission to the last token.</summary>
    public static readonly Histogram<double> EndToEndLatency = Meter.CreateHistogram<double>("pagedattention.e2e_request_latency", "s",
        "Time from a request's submission to its end (vLLM: e2e_request_latency_seconds).",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120] });

    /// <summary>Finished sequences by <see cref="PagedAttentionTelemetry.FinishedReasonTag"/>.</summary>
    public static readonly Counter<long> Finished = Meter.CreateCounter<long>("pagedattention.requests.finished", "{request}",
        "Finished requests (sequences) by reason: stop, length, abort, error (vLLM: request_success by finished_reason).");

    static EngineInstruments()
    {
        Meter.CreateObservableUpDownCounter("pagedattention.requests.running", () => Observe(g => g.Running), "{request}", "Sequences running (holding KV blocks) (vLLM: num_requests_running).");
        Meter.CreateObservableUpDownCounter("pagedattention.requests.waiting", () => Observe(g => g.Waiting), "{request}", "Sequences waiting to be scheduled (vLLM: num_requests_waiting).");
        Meter.CreateObservableGauge("pagedattention.kv_cache.usage", () => Observe(g => g.KvCacheUsage), "1", "Fraction of KV blocks referenced, 0 to 1 (vLLM: kv_cache_usage_perc).");
        Meter.CreateObservableCounter("pagedattention.prefix_cache.queries", () => Observe(g => g.PrefixQueryTokens), "{token}", "Prompt tokens looked up in the prefix cache (vLLM: prefix_cache_queries).");
        Meter.CreateObservableCounter("pagedattention.prefix_cache.hits", () => Observe(g => g.PrefixHitTokens), "{token}", "Prompt tokens served from the prefix cache (vLLM: prefix_cache_hits).");
        Meter.CreateObservableCounter("pagedattention.preemptions", () => Observe(g => g.Preemptions), "{preemption}", "Sequences preempted for lack of KV blocks (vLLM: num_preemptions).");
        Meter.CreateObservableCounter("pagedattention.prompt_tokens", () => Observe(g => g.PromptTokens), "{token}", "Prompt tokens of submitted requests (vLLM: prompt_tokens).");
        Meter.CreateObservableCounter("pagedattention.generation_tokens", () => Observe(g => g.GenerationTokens), "{token}", "Tokens generated (vLLM: generation_tokens).");
    }

    private sealed record Registration(string Model, Func<EngineGauges> Read)
    {
        public KeyValuePair<string, object?> Tag { get; } = new(PagedAttentionTelemetry.ModelTag, Model);
    }

    /// <summary>Adds an engine to the observed ones; dispose the result when the engine stops.</summary>
    public static IDisposable Register(string model, Func<EngineGauges> read)
    {
        var r = new Registration(model, read);
        lock (Gate) _engines = [.. _engines, r];
        return new Unregister(r);
    }

    private sealed class Unregister(Registration r) : IDisposable
    {
        public void Dispose()
        {
            lock (Gate) _engines = [.. _engines.Where(e => !ReferenceEquals(e, r))];
        }
    }

    private static IEnumerable<Measurement<T>> Observe<T>(Func<EngineGauges, T> pick) where T : struct
    {
        var engines = Volatile.Read(ref _engines);
        var list = new List<Measurement<T>>(engines.Length);
        foreach (var e in engines) list.Add(new Measurement<T>(pick(e.Read()), e.Tag));
        return list;
    }
}
