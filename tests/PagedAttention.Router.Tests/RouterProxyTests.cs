using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using PagedAttention.Router.Configuration;

namespace PagedAttention.Router.Tests;

/// <summary>The router in-process on real Kestrel in front of fake upstreams: policy, spill, health, streaming.</summary>
public sealed class RouterProxyTests
{
    private static StringContent Chat(string system, string user, bool stream = false) => new(
        JsonSerializer.Serialize(new
        {
            model = "default",
            messages = new object[] { new { role = "system", content = system }, new { role = "user", content = user } },
            stream,
        }),
        Encoding.UTF8,
        "application/json");

    private static async Task<string> SendAsync(RouterFixture f, string system, string user)
    {
        using var response = await f.Client.PostAsync("/v1/chat/completions", Chat(system, user));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var replica = Assert.Single(response.Headers.GetValues(RouterApplication.ReplicaHeader));
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("chat.completion", body);
        return replica;
    }

    private static async Task<JsonElement> ReplicasAsync(RouterFixture f) =>
        (await f.Client.GetFromJsonAsync<JsonElement>("/router/replicas")).GetProperty("replicas");

    private static JsonElement Replica(JsonElement replicas, string id) =>
        replicas.EnumerateArray().Single(r => r.GetProperty("id").GetString() == id);

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); // a liveness bound, generous for a loaded 2-core machine
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for: {what}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task PrefixAffinityKeepsEachPreambleOnOneReplicaAndSpreadsPreambles()
    {
        await using var f = await RouterFixture.StartAsync(4, RouterPolicies.PrefixAffinity);
        var byGroup = new Dictionary<int, HashSet<string>>();
        for (var round = 0; round < 4; round++)
        {
            for (var g = 0; g < 8; g++)
            {
                var replica = await SendAsync(f, $"You are agent {g}. Shared preamble of group {g}.", $"question {round}");
                (byGroup.TryGetValue(g, out var set) ? set : byGroup[g] = []).Add(replica);
            }
        }

        Assert.All(byGroup.Values, set => Assert.Single(set));
        Assert.True(byGroup.Values.Select(s => s.Single()).Distinct().Count() >= 2, "8 preambles all landed on one replica");
        Assert.Equal(32, f.Replicas.Sum(r => r.Bodies.Count));
    }

    [Fact]
    public async Task RoundRobinRotatesOverReplicasWhateverThePrefix()
    {
        await using var f = await RouterFixture.StartAsync(4, RouterPolicies.RoundRobin);
        var replicas = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            replicas.Add(await SendAsync(f, "One shared preamble.", $"question {i}"));
        }

        Assert.All(f.Replicas, r => Assert.Equal(2, r.Bodies.Count));
        Assert.Equal(4, replicas.Distinct().Count());
    }

    [Fact]
    public async Task AnOverloadedOwnerSpillsToTheNextReplicaOnTheRing()
    {
        // ε = 0 and no low-load floor: capacity = ceil((in flight + 1) / 2), so held requests alternate owner, next.
        // Health is not under test here: a slow probe on a busy machine must not eject a replica mid-test (both
        // ejected means a 503 and no held request), so the probe is patient.
        await using var f = await RouterFixture.StartAsync(2, RouterPolicies.PrefixAffinity, "--Router:LoadFactor=0", "--Router:MinSpillLoad=0",
            "--Router:HealthCheckInterval=00:00:05", "--Router:HealthCheckTimeout=00:00:20");
        foreach (var r in f.Replicas)
        {
            r.Hold();
        }

        var sends = new List<Task<HttpResponseMessage>>();
        for (var i = 0; i < 4; i++)
        {
            sends.Add(f.Client.PostAsync("/v1/chat/completions", Chat("The hot preamble.", $"q{i}")));
            var expected = i + 1;
            await EventuallyAsync(async () =>
            {
                if (sends.FirstOrDefault(s => s.IsCompleted) is { } done)
                {
                    using var early = await done;
                    Assert.Fail($"a held request was answered early: {(int)early.StatusCode} {await early.Content.ReadAsStringAsync()}");
                }

                return f.Replicas.Sum(r => Volatile.Read(ref r.InFlight)) == expected;
            }, $"{expected} requests held");
        }

        Assert.All(f.Replicas, r => Assert.Equal(2, r.Bodies.Count));
        foreach (var r in f.Replicas)
        {
            r.Release();
        }

        foreach (var response in await Task.WhenAll(sends))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.Dispose();
        }

        var spilled = (await ReplicasAsync(f)).EnumerateArray().Select(r => r.GetProperty("spilledIn").GetInt64()).Order().ToArray();
        Assert.Equal(new long[] { 0, 2 }, spilled);

        // Load gone: the same preamble goes back to its owner only.
        var owner = await SendAsync(f, "The hot preamble.", "after");
        Assert.Equal(owner, await SendAsync(f, "The hot preamble.", "after 2"));
    }

    [Fact]
    public async Task AKilledReplicaIsEjectedAndItsRequestsReRouteWithoutErrors()
    {
        await using var f = await RouterFixture.StartAsync(3, RouterPolicies.PrefixAffinity);
        const string preamble = "Preamble of the group whose replica dies.";
        var owner = await SendAsync(f, preamble, "before");
        var victim = f.Replicas[int.Parse(owner[1..])];
        await victim.KillAsync();

        var after = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            after.Add(await SendAsync(f, preamble, $"after {i}")); // the first is retried on the next replica
        }

        Assert.DoesNotContain(owner, after);
        Assert.Single(after.Distinct()); // the keys of the dead replica move to one next replica, consistently
        // The retried request reached the next replica with its body intact (replayed from the read-ahead buffer).
        var next = f.Replicas[int.Parse(after[0][1..])];
        Assert.Contains(next.Bodies, b => b.Contains("\"after 0\"", StringComparison.Ordinal) && b.Contains(preamble, StringComparison.Ordinal));

        await EventuallyAsync(async () => !Replica(await ReplicasAsync(f), owner).GetProperty("available").GetBoolean(), "passive ejection");
        Assert.True(Replica(await ReplicasAsync(f), owner).GetProperty("failures").GetInt64() >= 1);
        await EventuallyAsync(async () => Replica(await ReplicasAsync(f), owner).GetProperty("active").GetString() == "Unhealthy", "active probe marks it unhealthy");
        using var health = await f.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Contains("\"available\":2", await health.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AReplicaFailingItsHealthProbeIsEjectedThenReadmitted()
    {
        await using var f = await RouterFixture.StartAsync(3, RouterPolicies.PrefixAffinity);
        const string preamble = "Preamble of the group whose replica turns unhealthy.";
        var owner = await SendAsync(f, preamble, "before");
        var sick = f.Replicas[int.Parse(owner[1..])];
        sick.Healthy = false;
        await EventuallyAsync(async () => !Replica(await ReplicasAsync(f), owner).GetProperty("available").GetBoolean(), "ejected by the probe");
        var moved = await SendAsync(f, preamble, "during");
        Assert.NotEqual(owner, moved);

        sick.Healthy = true;
        await EventuallyAsync(async () => Replica(await ReplicasAsync(f), owner).GetProperty("available").GetBoolean(), "readmitted by the probe");
        Assert.Equal(owner, await SendAsync(f, preamble, "after"));
    }

    [Fact]
    public async Task AllReplicasDownGives503FromTheRouterAndItsHealth()
    {
        await using var f = await RouterFixture.StartAsync(2, RouterPolicies.PrefixAffinity);
        foreach (var r in f.Replicas)
        {
            await r.KillAsync();
        }

        using var first = await f.Client.PostAsync("/v1/chat/completions", Chat("p", "q"));
        Assert.True(first.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable, $"got {first.StatusCode}");
        await EventuallyAsync(async () =>
        {
            using var h = await f.Client.GetAsync("/health");
            return h.StatusCode == HttpStatusCode.ServiceUnavailable;
        }, "router health 503");
        using var later = await f.Client.PostAsync("/v1/chat/completions", Chat("p", "q"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, later.StatusCode);
    }

    [Fact]
    public async Task ServerSentEventsPassThroughIncrementally()
    {
        await using var f = await RouterFixture.StartAsync(1, RouterPolicies.PrefixAffinity);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Chat("p", "q", stream: true) };
        using var response = await f.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        // The upstream sends the second chunk only after the client saw the first: a buffering proxy would hang here.
        var first = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(first);
        Assert.Contains("\"one\"", first);
        Assert.False(f.Replicas[0].SecondChunk.Task.IsCompleted);
        f.Replicas[0].SecondChunk.SetResult();

        var rest = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("\"two\"", rest);
        Assert.EndsWith("data: [DONE]\n\n", rest);
    }

    [Fact]
    public async Task AReplicaDyingMidStreamEndsTheClientStreamPromptlyAndIsEjected()
    {
        await using var f = await RouterFixture.StartAsync(2, RouterPolicies.PrefixAffinity);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Chat("p", "q", stream: true) };
        using var response = await f.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var id = response.Headers.GetValues(RouterApplication.ReplicaHeader).Single();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Contains("\"one\"", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)));

        await f.Replicas[int.Parse(id[1..])].KillAsync(); // aborts the open stream on the replica's side
        var rest = "";
        try
        {
            rest = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10)); // an error or a cut stream, not a hang
        }
        catch (IOException)
        {
        }
        catch (HttpRequestException)
        {
        }

        Assert.DoesNotContain("[DONE]", rest);
        await EventuallyAsync(async () => !Replica(await ReplicasAsync(f), id).GetProperty("available").GetBoolean(), "ejected after the broken stream");
        Assert.NotEqual(id, await SendAsync(f, "p", "next"));
    }

    [Fact]
    public async Task BodiesLargerThanTheInspectedPrefixArriveIntactAndStillRouteByPrefix()
    {
        await using var f = await RouterFixture.StartAsync(3, RouterPolicies.PrefixAffinity, "--Router:InspectBytes=4096");
        var big = new string('x', 300_000);
        var owners = new HashSet<string>();
        foreach (var user in new[] { big, big + "y", "short" })
        {
            var json = JsonSerializer.Serialize(new { messages = new object[] { new { role = "system", content = "Big-body preamble." }, new { role = "user", content = user } } });
            using var response = await f.Client.PostAsync("/v1/chat/completions", new StringContent(json, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            owners.Add(response.Headers.GetValues(RouterApplication.ReplicaHeader).Single());
            Assert.Contains(json, f.Replicas.SelectMany(r => r.Bodies));
        }

        Assert.Single(owners);
    }

    [Fact]
    public async Task NonJsonAndGetRequestsAreProxiedToo()
    {
        await using var f = await RouterFixture.StartAsync(2, RouterPolicies.PrefixAffinity);
        using var response = await f.Client.PostAsync("/v1/completions", new StringContent("not json", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // the fake answers anything; the real server would say 400
        Assert.Contains("not json", f.Replicas.SelectMany(r => r.Bodies));
        using var missing = await f.Client.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode); // proxied: the fake has no /v1/models
        Assert.True(missing.Headers.Contains(RouterApplication.ReplicaHeader));
    }
}
