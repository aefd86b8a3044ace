using PagedAttention.Bench.ScaleOut;
using Xunit.Abstractions;

namespace PagedAttention.Router.Tests;

/// <summary>
/// The short version of bench/ScaleOut: 4 real PagedAttention.Server processes (default model) behind the router,
/// 8 agent groups with their own preamble, requests interleaved; prefix affinity must keep the hit rate of one
/// replica and beat round-robin clearly, and a replica killed mid-run must be ejected with every request answered.
/// </summary>
[Collection(ProcessHeavyCollection.Name)]
public sealed class ScaleOutTests(ITestOutputHelper output)
{
    private static string ServerDll()
    {
        // tests/PagedAttention.Router.Tests/bin/<configuration>/net10.0/ -> src/PagedAttention.Server/bin/<configuration>/net10.0/
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = tfm.Parent!.Name;
        return Path.Combine(ScaleOutOptions.RepositoryRoot(), "src", "PagedAttention.Server", "bin", configuration, tfm.Name, "PagedAttention.Server.dll");
    }

    [Fact]
    public async Task PrefixAffinityKeepsTheSingleReplicaHitRateAndSurvivesAKilledReplica()
    {
        var options = ScaleOutOptions.Parse(
        [
            "--replicas", "4", "--groups", "8", "--per-group", "4", "--preamble-tokens", "320", "--max-tokens", "4",
            "--concurrency", "8", "--kill-after", "0.4", "--timeout-s", "120",
            "--server-env", "PAGEDATTENTION_CPU_THREADS=1", "--server-arg", "--PagedAttention:KvCacheBytes=67108864",
        ]);
        options.ServerDll = ServerDll();
        Assert.True(File.Exists(options.ServerDll), $"{options.ServerDll} is missing (the test project builds it first).");

        var log = new StringWriter();
        var results = (await ScaleOutRunner.RunAsync(options, log, CancellationToken.None)).ToDictionary(r => r.Phase);
        var report = log + ScaleOutRunner.Table(results.Values);
        output.WriteLine(report);

        var single = results["single"];
        var affinity = results["affinity"];
        var roundRobin = results["roundrobin"];
        var kill = results["kill"];
        foreach (var r in new[] { single, affinity, roundRobin })
        {
            Assert.True(r.Ok == r.Requests, $"{r.Phase}: {r.Failed} failed\n{report}");
            Assert.True(r.PromptTokens > 32 * 300, report);
        }

        // One replica misses each preamble once (8 of 32 requests); affinity must stay within 5 points of it;
        // round-robin spreads each group over most replicas and misses far more often.
        Assert.True(single.HitRate > 0.5, report);
        Assert.True(affinity.HitRate >= single.HitRate - 0.05, report);
        Assert.True(affinity.HitRate >= roundRobin.HitRate + 0.15, report);
        Assert.True(affinity.PerReplica.Count >= 2, report);

        // Kill: every request answered (a cut stream is retried once by the client), the router reported the replica
        // unavailable, and nothing it served started after the kill.
        Assert.True(kill.Ok == kill.Requests, report);
        Assert.Contains("router reported it unavailable after", kill.Note);
        Assert.Contains("after the kill: 0;", kill.Note);
        Assert.True(kill.MaxLatencyMs < 60_000, report);
    }
}
