using System.Text.Json.Serialization;

namespace PagedAttention.Bench.Throughput;

/// <summary>Mean, median and 99th percentile of a sample, in milliseconds.</summary>
[JsonNumberHandling(JsonNumberHandling.AllowNamedFloatingPointLiterals)]
public sealed record Summary(
    [property: JsonPropertyName("mean")] double Mean,
    [property: JsonPropertyName("p50")] double P50,
    [property: JsonPropertyName("p99")] double P99,
    [property: JsonPropertyName("count")] int Count)
{
    public static Summary Of(IEnumerable<double> values)
    {
        var a = values.Where(double.IsFinite).OrderBy(x => x).ToArray();
        if (a.Length == 0) return new Summary(double.NaN, double.NaN, double.NaN, 0);
        return new Summary(a.Average(), Percentile(a, 50), Percentile(a, 99), a.Length);
    }

    /// <summary>Linear interpolation between closest ranks (numpy's default).</summary>
    public static double Percentile(double[] sorted, double p)
    {
        double pos = (sorted.Length - 1) * p / 100;
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }

    public override string ToString() => $"mean {Mean:F1} / p50 {P50:F1} / p99 {P99:F1}";
}

/// <summary>What one request saw: arrival, the time of each output token (ms from the run's start).</summary>
public sealed class RequestTrace
{
    public double ArrivalMs;
    public readonly List<double> TokenMs = [];
    public int CachedTokens;
    public bool Stopped;
    public readonly List<int> Tokens = [];
    public string? Error;

    public double Ttft => TokenMs.Count > 0 ? TokenMs[0] - ArrivalMs : double.NaN;
    public double E2e => TokenMs.Count > 0 ? TokenMs[^1] - ArrivalMs : double.NaN;
    public double Tpot => TokenMs.Count > 1 ? (TokenMs[^1] - TokenMs[0]) / (TokenMs.Count - 1) : double.NaN;
    public IEnumerable<double> Itl() { for (int i = 1; i < TokenMs.Count; i++) yield return TokenMs[i] - TokenMs[i - 1]; }
}

/// <summary>Latency summary over a set of traces (vLLM benchmark_serving's definitions).</summary>
public sealed class LatencyReport
{
    [JsonPropertyName("ttft_ms")] public required Summary Ttft { get; init; }
    [JsonPropertyName("tpot_ms")] public required Summary Tpot { get; init; }
    [JsonPropertyName("itl_ms")] public required Summary Itl { get; init; }
    [JsonPropertyName("e2e_ms")] public required Summary E2e { get; init; }

    public static LatencyReport Of(IReadOnlyList<RequestTrace> t) => new()
    {
        Ttft = Summary.Of(t.Select(x => x.Ttft)),
        Tpot = Summary.Of(t.Select(x => x.Tpot)),
        Itl = Summary.Of(t.SelectMany(x => x.Itl())),
        E2e = Summary.Of(t.Select(x => x.E2e)),
    };
}
