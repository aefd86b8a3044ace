using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace PagedAttention.Router.Tests;

/// <summary>Fake replicas plus the router in front of them, all on 127.0.0.1 ports chosen by the OS.</summary>
internal sealed class RouterFixture : IAsyncDisposable
{
    private RouterFixture(FakeReplica[] replicas, WebApplication router, HttpClient client)
    {
        Replicas = replicas;
        Router = router;
        Client = client;
    }

    public FakeReplica[] Replicas { get; }

    public WebApplication Router { get; }

    public HttpClient Client { get; }

    public static async Task<RouterFixture> StartAsync(int replicas, string policy, params string[] extra)
    {
        var fakes = new FakeReplica[replicas];
        for (var i = 0; i < replicas; i++)
        {
            fakes[i] = await FakeReplica.StartAsync($"fake{i}");
        }

        string[] args =
        [
            "--urls=http://127.0.0.1:0",
            $"--replicas={string.Join(',', fakes.Select(f => f.Address))}",
            $"--policy={policy}",
            "--Router:HealthCheckInterval=00:00:00.200",
            // 5 s, not 1: with a failure threshold of 1, a probe that a loaded machine answers late marks a healthy
            // replica down (a fresh-clone CI run on a busy 2-core VM got a 503 that way); stopped replicas still fail at
            // once (connection refused).
            "--Router:HealthCheckTimeout=00:00:05",
            "--Router:HealthCheckFailureThreshold=1",
            .. extra,
        ];
        var router = RouterApplication.Create(args, b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        await router.StartAsync();
        var client = new HttpClient { BaseAddress = new Uri(router.Urls.First()), Timeout = TimeSpan.FromSeconds(30) };
        return new RouterFixture(fakes, router, client);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Router.StopAsync();
        await Router.DisposeAsync();
        foreach (var r in Replicas)
        {
            await r.DisposeAsync();
        }
    }
}
