using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;

namespace PagedAttention.Bench.Throughput;

/// <summary>Result of one pass over a workload.</summary>
public sealed class RunResult
{
    public required double Seconds { get; init; }
    public required int Requests { get; init; }
    public required int Failed { get; init; }
    public required long InputTokens { get; init; }
    public required long OutputTokens { get; init; }
    public required LatencyReport Latency { get; init; }
    public required EngineMetrics Metrics { get; init; }
    /// <summary>Output tokens/s while every request was past its first token and none had finished (NaN if never).</summary>
    public required double SteadyDecodeTokS { get; init; }
    /// <summary>Requests that finished with Stop although IgnoreEos is set: their grammar was complete.</summary>
    public int GrammarStops { get; init; }
    /// <summary>Output tokens per request, in workload order (0 for a failed request).</summary>
    public int[] OutputLengths { get; init; } = [];
    /// <summary>The token ids request 0 produced (to show what a constrained pass wrote).</summary>
    public IReadOnlyList<int> FirstOutput { get; init; } = [];
    /// <summary>Mean TTFT (ms) of each round, for a workload that arrives in rounds (agents-rounds); empty otherwise.</summary>
    public double[] RoundTtftMs { get; init; } = [];
    public double RequestsPerS => Requests / Seconds;
    public double OutputTokS => OutputTokens / Seconds;
    public double TotalTokS => (InputTokens + OutputTokens) / Seconds;

    public JsonObject ToJson() => new()
    {
        ["seconds"] = Seconds,
        ["requests"] = Requests,
        ["failed"] = Failed,
        ["input_tokens"] = InputTokens,
        ["output_tokens"] = OutputTokens,
        ["requests_per_s"] = RequestsPerS,
        ["output_tok_s"] = OutputTokS,
        ["total_tok_s"] = TotalTokS,
        ["steady_decode_tok_s"] = double.IsFinite(SteadyDecodeTokS) ? SteadyDecodeTokS : null,
        ["latency"] = JsonSerializer.SerializeToNode(Latency),
        ["prefix_hit_rate"] = Metrics.PrefixHitRate,
        ["prefix_query_tokens"] = Metrics.PrefixQueryTokens,
        ["prefix_hit_tokens"] = Metrics.PrefixHitTokens,
        ["preemptions"] = Metrics.Preemptions,
        // Swap preemption and the prefix cache's host tier (issue 21). The swap byte counters include the host tier's copies.
        ["recompute_preemptions"] = Metrics.RecomputePreemptions,
        ["swap_outs"] = Metrics.SwapOuts,
        ["swap_ins"] = Metrics.SwapIns,
        ["swap_bytes_out"] = Metrics.SwapBytesOut,
        ["swap_bytes_in"] = Metrics.SwapBytesIn,
        ["swap_s"] = Metrics.SwapSeconds,
        ["swap_issue_s"] = Metrics.SwapIssueSeconds,
        ["host_tier_hit_tokens"] = Metrics.HostTierHitTokens,
        ["host_tier_hit_rate"] = InputTokens == 0 ? 0 : (double)Metrics.HostTierHitTokens / InputTokens,
        ["host_tier_blocks_out"] = Metrics.HostTierBlocksOut,
        ["host_tier_blocks_in"] = Metrics.HostTierBlocksIn,
        ["round_ttft_ms"] = RoundTtftMs.Length == 0 ? null : new JsonArray([.. RoundTtftMs.Select(x => (JsonNode?)(double.IsFinite(x) ? x : null))]),
        ["steps"] = Metrics.Steps,
        ["computed_tokens"] = Metrics.ComputedTokens,
        // Step-loop time split: inside the forward call (GPU busy) vs host work between steps (GPU idle).
        ["busy_s"] = Metrics.BusySeconds,
        ["forward_s"] = Metrics.ForwardSeconds,
        ["host_ms_per_step"] = Metrics.Steps == 0 ? null : 1e3 * (Metrics.BusySeconds - Metrics.ForwardSeconds) / Metrics.Steps,
        ["forward_ms_per_step"] = Metrics.Steps == 0 ? null : 1e3 * Metrics.ForwardSeconds / Metrics.Steps,
    };
}

/// <summary>Submits a workload to the engine (all at once, or at Poisson arrival times) and records per-token times.</summary>
internal sealed class Runner(LlmEngine engine, Options opt)
{
    private IChatClient? _chat;

    /// <summary>When set, every request of the next runs is constrained by a fresh constraint from this factory.</summary>
    public Func<ITokenConstraint>? Constraint { get; set; }

    private IChatClient Chat => _chat ??= engine.AsChatClient();

    /// <summary>JIT, first allocations and kernel compilation, outside any timing (its own cache salt).</summary>
    public async Task WarmUpAsync(Workload w)
    {
        var sw = Stopwatch.StartNew();
        var few = new Workload { Name = "warmup", Requests = w.Requests.Take(Math.Min(4, w.Requests.Count)).Select(r => new BenchRequest { Prompt = r.Prompt, OutputLen = Math.Min(8, r.OutputLen) }).ToList() };
        await RunAsync(few, double.PositiveInfinity, "warmup");
        Console.WriteLine($"warm-up: {sw.Elapsed.TotalSeconds:F1} s");
    }

    public async Task<RunResult> RunAsync(Workload w, double rate, string salt)
    {
        int n = w.Requests.Count;
        var traces = new RequestTrace[n];
        var arrivals = new double[n];
        var rng = new Random(w.Seed + 7919);
        double t = 0;
        for (int i = 0; i < n; i++)
        {
            if (double.IsFinite(rate) && rate > 0) t += -Math.Log(1 - rng.NextDouble()) / rate * 1e3;
            arrivals[i] = t;
        }
        var before = engine.GetMetrics();
        var sw = Stopwatch.StartNew();
        async Task One(int i)
        {
            var tr = traces[i] = new RequestTrace();
            double wait = arrivals[i] - sw.Elapsed.TotalMilliseconds;
            if (wait > 1) await Task.Delay(TimeSpan.FromMilliseconds(wait)).ConfigureAwait(false);
            tr.ArrivalMs = double.IsFinite(rate) ? arrivals[i] : sw.Elapsed.TotalMilliseconds;
            var q = w.Requests[i];
            var p = new SamplingParams
            {
                Temperature = 0, MaxTokens = q.OutputLen, IgnoreEos = true, CacheSalt = salt,
                Logprobs = opt.LogprobsEvery > 0 && i % opt.LogprobsEvery == 0 ? opt.Logprobs : 0,
                Constraint = Constraint,
            };
            try
            {
                if (opt.Api == "chat")
                {
                    string text = engine.Tokenizer!.Decode(q.Prompt, skipSpecialTokens: true);
                    var o = new ChatOptions { MaxOutputTokens = q.OutputLen, RawRepresentationFactory = _ => p };
                    await foreach (var _ in Chat.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, text)], o).ConfigureAwait(false))
                        lock (tr) tr.TokenMs.Add(sw.Elapsed.TotalMilliseconds);
                }
                else
                {
                    await foreach (var o in engine.GenerateAsync(q.Prompt, p).ConfigureAwait(false))
                    {
                        if (o.Index == 0) tr.CachedTokens = o.CachedTokens;
                        if (o.FinishReason == FinishReason.Stop) tr.Stopped = true;
                        tr.TokenMs.Add(sw.Elapsed.TotalMilliseconds);
                        if (i == 0) tr.Tokens.Add(o.TokenId);
                    }
                }
            }
            catch (Exception ex) { tr.Error = ex.Message; }
        }
        // A workload in rounds (agents-rounds) sends round r at once when round r - 1 has completed; TTFT counts from the
        // round's start (Program refuses such a workload in serving mode). Any other workload is one group, all at once or
        // at its Poisson arrival times.
        bool inRounds = w.Requests.Any(q => q.Round is not null);
        int[][] groups = inRounds
            ? [.. Enumerable.Range(0, n).GroupBy(i => w.Requests[i].Round ?? 0).OrderBy(g => g.Key).Select(g => g.ToArray())]
            : [Enumerable.Range(0, n).ToArray()];
        foreach (var g in groups)
            await Task.WhenAll(g.Select(i => Task.Run(() => One(i)))).ConfigureAwait(false);
        double seconds = sw.Elapsed.TotalSeconds;
        var after = engine.GetMetrics();
        var ok = traces.Where(x => x.Error is null && x.TokenMs.Count > 0).ToList();
        foreach (var e in traces.Where(x => x.Error is not null).Take(3)) Console.Error.WriteLine($"request failed: {e.Error}");
        return new RunResult
        {
            Seconds = seconds,
            Requests = ok.Count,
            Failed = n - ok.Count,
            InputTokens = Enumerable.Range(0, n).Where(i => traces[i].Error is null).Sum(i => (long)w.Requests[i].Prompt.Length),
            OutputTokens = ok.Sum(x => (long)x.TokenMs.Count),
            Latency = LatencyReport.Of(ok),
            Metrics = Delta(before, after),
            SteadyDecodeTokS = Steady(ok),
            GrammarStops = ok.Count(x => x.Stopped),
            FirstOutput = traces[0].Tokens,
            OutputLengths = [.. traces.Select(x => x.Error is null ? x.TokenMs.Count : 0)],
            RoundTtftMs = inRounds ? [.. groups.Select(g => Summary.Of(g.Select(i => traces[i]).Where(x => x.Error is null).Select(x => x.Ttft)).Mean)] : [],
        };
    }

    private static double Steady(List<RequestTrace> ok)
    {
        if (ok.Count == 0) return double.NaN;
        double start = ok.Max(x => x.TokenMs[0]), end = ok.Min(x => x.TokenMs[^1]);
        if (end - start < 1) return double.NaN;
        long tokens = ok.Sum(x => (long)x.TokenMs.Count(ms => ms > start && ms <= end));
        return tokens / ((end - start) / 1e3);
    }

    private static EngineMetrics Delta(EngineMetrics a, EngineMetrics b) => b with
    {
        PrefixQueryTokens = b.PrefixQueryTokens - a.PrefixQueryTokens,
        PrefixHitTokens = b.PrefixHitTokens - a.PrefixHitTokens,
        Preemptions = b.Preemptions - a.Preemptions,
        RecomputePreemptions = b.RecomputePreemptions - a.RecomputePreemptions,
        SwapOuts = b.SwapOuts - a.SwapOuts,
        SwapIns = b.SwapIns - a.SwapIns,
        SwapBytesOut = b.SwapBytesOut - a.SwapBytesOut,
        SwapBytesIn = b.SwapBytesIn - a.SwapBytesIn,
        SwapSeconds = b.SwapSeconds - a.SwapSeconds,
        SwapIssueSeconds = b.SwapIssueSeconds - a.SwapIssueSeconds,
        HostTierHitTokens = b.HostTierHitTokens - a.HostTierHitTokens,
        HostTierBlocksOut = b.HostTierBlocksOut - a.HostTierBlocksOut,
        HostTierBlocksIn = b.HostTierBlocksIn - a.HostTierBlocksIn,
        KvBlocksCopied = b.KvBlocksCopied - a.KvBlocksCopied,
        Steps = b.Steps - a.Steps,
        ComputedTokens = b.ComputedTokens - a.ComputedTokens,
        GeneratedTokens = b.GeneratedTokens - a.GeneratedTokens,
        BusySeconds = b.BusySeconds - a.BusySeconds,
        ForwardSeconds = b.ForwardSeconds - a.ForwardSeconds,
    };
}
