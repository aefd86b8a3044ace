using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using PagedAttention.Router;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.Bench.ScaleOut;

/// <summary>What one phase measured.</summary>
internal sealed record PhaseResult(
    string Phase, string Policy, int Requests, int Ok, int Failed, int ClientRetries, long PromptTokens, long CachedTokens,
    double HitRate, long OutputTokens, double WallSeconds, double OutputTokensPerSecond, double MeanTtftMs, double MaxLatencyMs,
    IReadOnlyDictionary<string, int> PerReplica, int GroupReplicaPairs, long Spilled, string? Note);

/// <summary>
/// Starts the replicas, runs each phase with fresh preambles on them, and returns the measurements. Phases:
/// <c>single</c> (replica 0 directly: the hit rate to match), <c>affinity</c> and <c>roundrobin</c> (the router with
/// that policy over all replicas), <c>kill</c> (affinity; the busiest replica is killed once a fraction of the
/// requests finished; a request that fails is retried once by the client, as an agent framework would).
/// </summary>
internal static class ScaleOutRunner
{
    public static async Task<List<PhaseResult>> RunAsync(ScaleOutOptions o, TextWriter log, CancellationToken cancellationToken)
    {
        var root = ScaleOutOptions.RepositoryRoot();
        var serverDll = o.ServerDll ?? Path.Combine(root, "src", "PagedAttention.Server", "bin", "Release", "net10.0", "PagedAttention.Server.dll");
        if (!File.Exists(serverDll))
        {
            throw new FileNotFoundException($"{serverDll} is missing: build it first (dotnet build src/PagedAttention.Server -c Release) or pass --server-dll.");
        }

        var tokenizer = Tokenizer.FromFile(o.Tokenizer ?? Path.Combine(root, "models", "default", "tokenizer.json"));
        var logDirectory = Directory.CreateTempSubdirectory("scaleout-").FullName;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(o.TimeoutSeconds) };
        var replicas = new List<ReplicaProcess>();
        try
        {
            var startup = Stopwatch.StartNew();
            for (var i = 0; i < o.Replicas; i++)
            {
                replicas.Add(ReplicaProcess.Start(serverDll, o.ServerArgs, o.ServerEnv, logDirectory, i));
            }

            await Task.WhenAll(replicas.Select(r => r.WaitHealthyAsync(http, TimeSpan.FromSeconds(300)))).ConfigureAwait(false);
            var model = await ModelIdAsync(http, replicas[0].Address).ConfigureAwait(false);
            log.WriteLine($"{o.Replicas} replicas healthy after {startup.Elapsed.TotalSeconds:F1} s ({string.Join(", ", replicas.Select(r => r.Address))}); model '{model}'; logs in {logDirectory}");

            // Warm-up: one short request per replica (JIT, first allocation), not measured.
            foreach (var r in replicas)
            {
                using var warm = new HttpClient { BaseAddress = new Uri(r.Address), Timeout = TimeSpan.FromSeconds(120) };
                var result = await new ChatStreamClient(warm, model, 4).SendAsync(new AgentRequest(0, 0, "warm-up", "hello"), Stopwatch.StartNew(), cancellationToken).ConfigureAwait(false);
                if (!result.Ok)
                {
                    throw new InvalidOperationException($"warm-up request to {r.Address} failed: {result.Error}");
                }
            }

            var results = new List<PhaseResult>();
            foreach (var phase in o.Phases)
            {
                var requests = Workload.Create(phase, o.Groups, o.PerGroup, o.PreambleTokens, tokenizer, o.Seed);
                PhaseResult result;
                if (phase == "single")
                {
                    using var direct = new HttpClient { BaseAddress = new Uri(replicas[0].Address), Timeout = TimeSpan.FromSeconds(o.TimeoutSeconds) };
                    result = await RunPhaseAsync(phase, "one replica", direct, model, requests, o, null, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    var policy = phase == "roundrobin" ? "RoundRobin" : "PrefixAffinity";
                    var epsilon = ScaleOutOptions.PhaseLoadFactor(phase) ?? o.LoadFactor;
                    await using var router = await StartRouterAsync(replicas, policy, epsilon).ConfigureAwait(false);
                    policy = policy == "RoundRobin" ? policy : string.Create(CultureInfo.InvariantCulture, $"{policy} ε={epsilon}");
                    using var client = new HttpClient { BaseAddress = new Uri(router.Urls.First()), Timeout = TimeSpan.FromSeconds(o.TimeoutSeconds) };
                    var killer = phase == "kill" ? new Killer(replicas, client, o.KillAfter * requests.Count) : null;
                    result = await RunPhaseAsync(phase, policy, client, model, requests, o, killer, cancellationToken).ConfigureAwait(false);
                }

                log.WriteLine(Describe(result));
                results.Add(result);
            }

            return results;
        }
        finally
        {
            foreach (var r in replicas)
            {
                r.Dispose();
            }
        }
    }

    /// <summary>The markdown table of the results.</summary>
    public static string Table(IEnumerable<PhaseResult> results)
    {
        var lines = new List<string>
        {
            "| phase | routing | ok / requests | prompt tokens | cached tokens | prefix hit rate | output tok/s | mean TTFT (ms) | requests per replica | (group, replica) pairs | spilled |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        };
        foreach (var r in results)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Phase} | {r.Policy} | {r.Ok} / {r.Requests} | {r.PromptTokens} | {r.CachedTokens} | {r.HitRate:P1} | {r.OutputTokensPerSecond:F1} | {r.MeanTtftMs:F0} | {string.Join(" ", r.PerReplica.OrderBy(p => p.Key).Select(p => $"{p.Key}:{p.Value}"))} | {r.GroupReplicaPairs} | {r.Spilled} |"));
        }

        return string.Join('\n', lines);
    }

    private static string Describe(PhaseResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Phase,-10} {r.Policy,-14} ok {r.Ok}/{r.Requests} failed {r.Failed} client-retries {r.ClientRetries} hit {r.HitRate:P1} " +
        $"({r.CachedTokens}/{r.PromptTokens}) out {r.OutputTokensPerSecond:F1} tok/s TTFT {r.MeanTtftMs:F0} ms max latency {r.MaxLatencyMs:F0} ms " +
        $"wall {r.WallSeconds:F1} s pairs {r.GroupReplicaPairs} spilled {r.Spilled} replicas [{string.Join(" ", r.PerReplica.OrderBy(p => p.Key).Select(p => $"{p.Key}:{p.Value}"))}]{(r.Note is null ? "" : " — " + r.Note)}");

    private static async Task<PhaseResult> RunPhaseAsync(string phase, string policy, HttpClient http, string model,
        List<AgentRequest> requests, ScaleOutOptions o, Killer? killer, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(o.TimeoutSeconds));
        var client = new ChatStreamClient(http, model, o.MaxTokens);
        var queue = new ConcurrentQueue<AgentRequest>(requests);
        var results = new RequestResult[requests.Count];
        var completed = 0;
        var clientRetries = 0;
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, Math.Min(o.Concurrency, requests.Count)).Select(async _ =>
        {
            while (queue.TryDequeue(out var request))
            {
                var result = await client.SendAsync(request, clock, deadline.Token).ConfigureAwait(false);
                if (!result.Ok && !deadline.IsCancellationRequested)
                {
                    Interlocked.Increment(ref clientRetries);
                    result = await client.SendAsync(request, clock, deadline.Token).ConfigureAwait(false);
                }

                results[request.Index] = result;
                Interlocked.Increment(ref completed);
                killer?.Observe(Volatile.Read(ref completed), result);
            }
        }).ToList();

        await Task.WhenAll(workers).ConfigureAwait(false);
        var wall = clock.Elapsed.TotalSeconds;
        var note = killer is null ? null : await killer.ReportAsync(results).ConfigureAwait(false);
        var ok = results.Where(r => r.Ok).ToList();
        long prompt = ok.Sum(r => (long)r.PromptTokens), cached = ok.Sum(r => (long)r.CachedTokens), output = ok.Sum(r => (long)r.CompletionTokens);
        var perReplica = ok.GroupBy(r => r.Replica ?? "r0").ToDictionary(g => g.Key, g => g.Count());
        var pairs = ok.Select(r => (r.Group, r.Replica)).Distinct().Count();
        long spilled = 0;
        if (phase != "single")
        {
            var status = await http.GetFromJsonAsync<JsonElement>("/router/replicas", cancellationToken).ConfigureAwait(false);
            spilled = status.GetProperty("replicas").EnumerateArray().Sum(r => r.GetProperty("spilledIn").GetInt64());
        }

        return new PhaseResult(phase, policy, requests.Count, ok.Count, requests.Count - ok.Count, clientRetries, prompt, cached,
            prompt == 0 ? 0 : (double)cached / prompt, output, wall, output / wall, ok.Count == 0 ? 0 : ok.Average(r => r.TtftMs),
            results.Max(r => r.LatencyMs), perReplica, pairs, spilled, note);
    }

    private static async Task<WebApplication> StartRouterAsync(List<ReplicaProcess> replicas, string policy, double epsilon)
    {
        string[] args =
        [
            "--urls=http://127.0.0.1:0",
            $"--replicas={string.Join(',', replicas.Where(r => !r.HasExited).Select(r => r.Address))}",
            $"--policy={policy}",
            $"--Router:LoadFactor={epsilon.ToString(CultureInfo.InvariantCulture)}",
            "--Router:HealthCheckInterval=00:00:01",
            "--Router:HealthCheckFailureThreshold=1",
            "--Logging:LogLevel:Default=Warning",
        ];
        var router = RouterApplication.Create(args, b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        await router.StartAsync().ConfigureAwait(false);
        return router;
    }

    private static async Task<string> ModelIdAsync(HttpClient http, string address)
    {
        try
        {
            var models = await http.GetFromJsonAsync<JsonElement>($"{address}/v1/models").ConfigureAwait(false);
            return models.GetProperty("data")[0].GetProperty("id").GetString() ?? "default";
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return "default";
        }
    }

    /// <summary>Kills the busiest replica once enough requests finished, then watches the router eject it.</summary>
    private sealed class Killer(List<ReplicaProcess> replicas, HttpClient router, double after)
    {
        private readonly ConcurrentDictionary<string, int> _served = new();
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private int _killed;
        private string? _victim;
        private double _killedAtMs;
        private double _ejectedAfterMs = -1;
        private Task? _watch;

        public void Observe(int completed, RequestResult result)
        {
            if (result.Replica is { } id)
            {
                _served.AddOrUpdate(id, 1, (_, n) => n + 1);
            }

            if (completed >= after && Interlocked.Exchange(ref _killed, 1) == 0)
            {
                _victim = _served.OrderByDescending(p => p.Value).First().Key;
                replicas[int.Parse(_victim[1..], CultureInfo.InvariantCulture)].Kill();
                _killedAtMs = _clock.Elapsed.TotalMilliseconds;
                _watch = WatchAsync();
            }
        }

        public async Task<string> ReportAsync(RequestResult[] results)
        {
            if (_watch is null)
            {
                return "no replica was killed";
            }

            await _watch.ConfigureAwait(false);
            var status = await router.GetStringAsync("/router/replicas").ConfigureAwait(false);
            return string.Create(CultureInfo.InvariantCulture,
                $"killed {_victim} after {after:F0} requests; router reported it unavailable after {_ejectedAfterMs:F0} ms; " +
                $"served by {_victim} after the kill: {results.Count(r => r.Ok && r.Replica == _victim && r.StartedMs > _killedAtMs)}; router status {status}");
        }

        private async Task WatchAsync()
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (DateTime.UtcNow < deadline)
            {
                var replicasStatus = (await router.GetFromJsonAsync<JsonElement>("/router/replicas").ConfigureAwait(false)).GetProperty("replicas");
                var victim = replicasStatus.EnumerateArray().First(r => r.GetProperty("id").GetString() == _victim);
                if (!victim.GetProperty("available").GetBoolean())
                {
                    _ejectedAfterMs = _clock.Elapsed.TotalMilliseconds - _killedAtMs;
                    return;
                }

                await Task.Delay(20).ConfigureAwait(false);
            }
        }
    }
}
