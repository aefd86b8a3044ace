using System.Diagnostics;

namespace PagedAttention.AI.Observability;

/// <summary>
/// One request's span and latencies, written by the consumer of its output stream: a timestamp at submission, one at
/// the first token, one at the end; per token only a count. The span (when anyone listens to
/// <see cref="PagedAttentionTelemetry.ActivitySourceName"/>) is started without becoming <see cref="Activity.Current"/>
/// of the caller, since a streaming request's lifetime is not a scope of the caller's code.
/// </summary>
internal sealed class RequestTelemetry
{
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly KeyValuePair<string, object?> _model;
    private readonly Activity? _activity;
    private long _firstToken;
    private int _tokens;
    private int _cached;

    public RequestTelemetry(string model, long requestId, int promptTokens, int n, int maxTokens)
    {
        _model = new(PagedAttentionTelemetry.ModelTag, model);
        if (!EngineInstruments.Source.HasListeners()) return;
        var previous = Activity.Current;
        _activity = EngineInstruments.Source.StartActivity("pagedattention.generate", ActivityKind.Internal);
        Activity.Current = previous;
        if (_activity is null) return;
        _activity.SetTag("gen_ai.request.model", model);
        _activity.SetTag("pagedattention.request_id", requestId);
        _activity.SetTag("gen_ai.request.max_tokens", maxTokens);
        _activity.SetTag("gen_ai.request.choice.count", n);
        _activity.SetTag("gen_ai.usage.input_tokens", promptTokens);
    }

    /// <summary>Counts one output token (of any of the request's sequences).</summary>
    public void Token(int cachedTokens)
    {
        if (_tokens++ == 0)
        {
            _firstToken = Stopwatch.GetTimestamp();
            EngineInstruments.TimeToFirstToken.Record(Stopwatch.GetElapsedTime(_start, _firstToken).TotalSeconds, _model);
            _activity?.AddEvent(new ActivityEvent("first_token"));
        }
        _cached = cachedTokens;
    }

    /// <summary>Counts a finished sequence by reason ("stop", "length", "abort", "error").</summary>
    public void Finished(string reason) =>
        EngineInstruments.Finished.Add(1, _model, new(PagedAttentionTelemetry.FinishedReasonTag, reason));

    /// <summary>Ends the request: latencies, the span's outcome.</summary>
    public void End(string outcome, Exception? error)
    {
        long end = Stopwatch.GetTimestamp();
        EngineInstruments.EndToEndLatency.Record(Stopwatch.GetElapsedTime(_start, end).TotalSeconds, _model);
        if (_tokens > 1) EngineInstruments.TimePerOutputToken.Record(Stopwatch.GetElapsedTime(_firstToken, end).TotalSeconds / (_tokens - 1), _model);
        if (_activity is null) return;
        _activity.SetTag("gen_ai.usage.output_tokens", _tokens);
        _activity.SetTag("pagedattention.cached_tokens", _cached);
        _activity.SetTag("pagedattention.outcome", outcome);
        if (error is not null) _activity.SetStatus(ActivityStatusCode.Error, error.Message);
        _activity.Stop();
    }
}
