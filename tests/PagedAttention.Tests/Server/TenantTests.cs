using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using PagedAttention.Server;
using PagedAttention.Server.Hosting;
using PagedAttention.Server.Tenancy;

namespace PagedAttention.Tests.Server;

/// <summary>
/// Tenants end to end: API keys → tenants, prefix-cache namespaces per tenant (cached &gt; 0 within one, 0 across),
/// a client's cache_salt ignored under keys, 401s, /metrics behind its own key, per-tenant rate limits (429) and the
/// bounded queue (503), both with Retry-After.
/// </summary>
public sealed class TenantTests : IAsyncLifetime
{
    private const string A1 = "sk-tenant-a-one", A2 = "sk-tenant-a-two", B1 = "sk-tenant-b-one", C1 = "sk-tenant-c-slow", MetricsKey = "sk-metrics-only";
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.StartAsync(configure: o =>
    {
        o.ApiKeys = [new() { Key = A1, Tenant = "a" }, new() { Key = A2, Tenant = "a" }, new() { Key = B1, Tenant = "b" }, new() { Key = C1, Tenant = "c", RequestsPerMinute = 2 }];
        o.MetricsApiKey = MetricsKey;
    });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static readonly string Preamble = string.Join(" ", Enumerable.Repeat("Policy: every answer cites the handbook, section four, on bridges and rivers.", 6));

    private static string Body(string question, string extra = "") =>
        $$"""{"model":"default","messages":[{"role":"system","content":{{JsonSerializer.Serialize(Preamble)}}},{"role":"user","content":{{JsonSerializer.Serialize(question)}}}],"max_tokens":2,"temperature":0{{extra}}}""";

    private static int Cached(JsonElement? body) => body!.Value.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();

    [Fact]
    public async Task PrefixCache_IsSharedWithinATenant_AndNeverAcross()
    {
        var (s1, first, _) = await _server.PostAsync("/v1/chat/completions", Body("One?"), A1);
        Assert.Equal(200, s1);
        Assert.Equal(0, Cached(first));
        var (_, sameKey, _) = await _server.PostAsync("/v1/chat/completions", Body("Two?"), A1);
        Assert.True(Cached(sameKey) >= 48, $"same key: cached {Cached(sameKey)}");
        var (_, sameTenant, _) = await _server.PostAsync("/v1/chat/completions", Body("Three?"), A2);
        Assert.True(Cached(sameTenant) >= 48, $"another key of the same tenant: cached {Cached(sameTenant)}");
        var (_, otherTenant, _) = await _server.PostAsync("/v1/chat/completions", Body("Two?"), B1);
        Assert.Equal(0, Cached(otherTenant));
        // A client's cache_salt cannot leave (or pick) a namespace under keys: it is ignored.
        var (_, salted, _) = await _server.PostAsync("/v1/chat/completions", Body("Four?", ",\"cache_salt\":\"b\""), A1);
        Assert.True(Cached(salted) >= 48, $"client salt ignored: cached {Cached(salted)}");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("sk-not-a-key")]
    public async Task MissingOrWrongKey_Is401(string? key)
    {
        var (status, body, response) = await _server.PostAsync("/v1/chat/completions", Body("Hi"), key);
        Assert.Equal(401, status);
        BadInputTests.AssertError(body, "401");
        Assert.Equal("invalid_api_key", body!.Value.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal(401, (int)(await _server.Http.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(200, (int)(await _server.Http.GetAsync("/health")).StatusCode); // probes need no key
    }

    [Fact]
    public async Task Metrics_NeedTheMetricsKey()
    {
        async Task<HttpResponseMessage> Get(string? key)
        {
            using var r = new HttpRequestMessage(HttpMethod.Get, "/metrics");
            if (key is not null) r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return await _server.Http.SendAsync(r);
        }
        Assert.Equal(401, (int)(await Get(null)).StatusCode);
        Assert.Equal(401, (int)(await Get(A1)).StatusCode); // a tenant key is not the metrics key
        await _server.PostAsync("/v1/chat/completions", Body("Hi"), A1);
        var ok = await Get(MetricsKey);
        Assert.Equal(200, (int)ok.StatusCode);
        string text = await ok.Content.ReadAsStringAsync();
        foreach (var name in (string[])["pagedattention_requests_running", "pagedattention_requests_waiting", "pagedattention_kv_cache_usage", "pagedattention_prefix_cache_queries_total",
                     "pagedattention_prefix_cache_hits_total", "pagedattention_preemptions_total", "pagedattention_prompt_tokens_total", "pagedattention_generation_tokens_total",
                     "pagedattention_time_to_first_token_seconds_bucket", "pagedattention_time_per_output_token_seconds_bucket", "pagedattention_e2e_request_latency_seconds_bucket",
                     "pagedattention_requests_finished_total", "pagedattention_server_requests_total"])
            Assert.Contains(name, text);
    }

    [Fact]
    public async Task RateLimit_Is429WithRetryAfter_PerTenant()
    {
        Assert.Equal(200, (await _server.PostAsync("/v1/chat/completions", Body("1"), C1)).Status);
        Assert.Equal(200, (await _server.PostAsync("/v1/chat/completions", Body("2"), C1)).Status);
        var (status, body, response) = await _server.PostAsync("/v1/chat/completions", Body("3"), C1);
        Assert.Equal(429, status);
        BadInputTests.AssertError(body, "429");
        Assert.NotNull(response.Headers.RetryAfter?.Delta);
        Assert.True(response.Headers.RetryAfter!.Delta >= TimeSpan.FromSeconds(1));
        Assert.Equal(200, (await _server.PostAsync("/v1/chat/completions", Body("4"), B1)).Status); // other tenants are not limited
    }

    [Fact]
    public void WithoutKeys_OnlyLoopbackClientsAreServed()
    {
        var resolver = new TenantResolver(new OpenAIServerOptions());
        var local = new DefaultHttpContext();
        local.Connection.RemoteIpAddress = IPAddress.Loopback;
        Assert.Equal(TenantResolver.AnonymousId, resolver.Resolve(local).Id);
        Assert.Null(resolver.Resolve(local).CacheSalt);
        var remote = new DefaultHttpContext();
        remote.Connection.RemoteIpAddress = IPAddress.Parse("10.1.2.3");
        var e = Assert.ThrowsAny<Exception>(() => resolver.Resolve(remote));
        Assert.Contains("loopback", e.Message);
        Assert.False(resolver.MayReadMetrics(remote));
        Assert.True(resolver.MayReadMetrics(local));
    }

    [Theory]
    [InlineData("short", "t", "at least 8 characters")]
    [InlineData("sk-long-enough", "", "non-empty Tenant")]
    public void BadKeyOptions_FailValidation_NamingTheProblem(string key, string tenant, string problem)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddOpenAIServer(o => o.ApiKeys = [new() { Key = key, Tenant = tenant }]);
        using var sp = services.BuildServiceProvider();
        var e = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<OpenAIServerOptions>>().Value);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void Salts_AreKeyedByTheSecret_AndLengthPrefixed()
    {
        byte[] secret = [1, 2, 3], other = [1, 2, 4];
        Assert.Equal(TenantResolver.Salt(secret, "a"), TenantResolver.Salt(secret, "a"));
        Assert.NotEqual(TenantResolver.Salt(secret, "a"), TenantResolver.Salt(other, "a"));
        Assert.NotEqual(TenantResolver.Salt(secret, "a"), TenantResolver.Salt(secret, "b"));
        Assert.NotEqual(TenantResolver.Salt(secret, "ab"), TenantResolver.Salt(secret, "a"));
    }

    [Fact]
    public async Task QueueFull_Is503WithRetryAfter_ThenServesAgain()
    {
        // Two sequences run, one may wait: the fourth long request finds the queue full.
        await using var small = await ServerHost.StartAsync(ServerHost.DefaultEngine(maxSeqs: 2), o => o.MaxWaitingRequests = 1);
        using var cts = new CancellationTokenSource();
        var streams = new List<HttpResponseMessage>();
        for (int i = 0; i < 3; i++)
        {
            var r = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = ServerHost.Json(ServerHost.Chat($"Story {i}", 1500, "\"ignore_eos\":true,\"stream\":true")) };
            streams.Add(await small.Http.SendAsync(r, HttpCompletionOption.ResponseHeadersRead, cts.Token));
        }
        Assert.All(streams, s => Assert.Equal(200, (int)s.StatusCode));
        var (status, body, response) = await small.PostAsync("/v1/chat/completions", ServerHost.Chat("One more", 4));
        Assert.Equal(503, status);
        BadInputTests.AssertError(body, "503");
        Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        cts.Cancel();
        foreach (var s in streams) s.Dispose();
        // The places come back when the handlers see their clients leave (slower on a loaded box than the engine's abort).
        var gate = small.Services.GetRequiredService<ServedModel>().Get().Admission;
        for (int i = 0; i < 1000 && (gate.Admitted > 0 || small.Engine.GetMetrics().Running > 0); i++) await Task.Delay(10);
        Assert.Equal(0, gate.Admitted);
        Assert.Equal(200, (await small.PostAsync("/v1/chat/completions", ServerHost.Chat("Again", 2))).Status);
    }
}
