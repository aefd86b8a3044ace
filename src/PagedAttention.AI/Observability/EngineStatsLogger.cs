using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace PagedAttention.AI.Observability;

/// <summary>
/// vLLM's periodic stats line: every interval in which the engine did anything, one Information line with the prompt
/// and generation throughput over the interval, running and waiting sequences, KV-cache usage and the prefix-cache hit
/// rate of the interval. Silent while idle. A timer callback on the thread pool; it only reads counters.
/// </summary>
internal sealed class EngineStatsLogger : IDisposable
{
    private readonly ILogger _logger;
    private readonly Func<EngineGauges> _read;
    private readonly Timer _timer;
    private EngineGauges _last;
    private long _lastTime = Stopwatch.GetTimestamp();
    private int _busy;

    public EngineStatsLogger(ILogger logger, Func<EngineGauges> read, TimeSpan interval)
    {
        _logger = logger;
        _read = read;
        _last = read();
        _timer = new Timer(static s => ((EngineStatsLogger)s!).Tick(), this, interval, interval);
    }

    private void Tick()
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0) return;
        try
        {
            var now = _read();
            long t = Stopwatch.GetTimestamp();
            double seconds = Stopwatch.GetElapsedTime(_lastTime, t).TotalSeconds;
            var last = _last;
            _last = now;
            _lastTime = t;
            if (now.ComputedTokens == last.ComputedTokens && now.Running == 0 && now.Waiting == 0) return;
            long generated = now.GenerationTokens - last.GenerationTokens;
            long prompt = Math.Max(0, now.ComputedTokens - last.ComputedTokens - generated); // prompt (and recomputed) tokens run through the model
            long queries = now.PrefixQueryTokens - last.PrefixQueryTokens, hits = now.PrefixHitTokens - last.PrefixHitTokens;
            _logger.LogInformation(
                "PagedAttention: avg prompt throughput {PromptTps:F1} tokens/s, avg generation throughput {GenerationTps:F1} tokens/s, running {Running} reqs, waiting {Waiting} reqs, KV cache usage {KvUsage:F1}%, prefix cache hit rate {HitRate:F1}%",
                prompt / seconds, generated / seconds, now.Running, now.Waiting, now.KvCacheUsage * 100, queries == 0 ? 0 : 100.0 * hits / queries);
        }
        catch (Exception) { } // a broken logger or a disposed engine never fails a timer thread
        finally { Volatile.Write(ref _busy, 0); }
    }

    public void Dispose() => _timer.Dispose();
}
