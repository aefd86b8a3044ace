using Microsoft.Extensions.Configuration;
using PagedAttention.Router.Configuration;

namespace PagedAttention.Router.Tests;

public sealed class RouterOptionsTests
{
    private static RouterOptions Read(params (string Key, string Value)[] values) =>
        RouterApplication.ReadOptions(new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build());

    [Fact]
    public void ReplicasComeAsAListOrACommaSeparatedValue()
    {
        var list = Read(("Router:Replicas:0", "http://127.0.0.1:8001"), ("Router:Replicas:1", "http://127.0.0.1:8002"));
        Assert.Equal(["http://127.0.0.1:8001", "http://127.0.0.1:8002"], list.Replicas);
        var csv = Read(("Router:Replicas", "http://127.0.0.1:8001, http://127.0.0.1:8002"));
        Assert.Equal(list.Replicas, csv.Replicas);
        Assert.Equal(RouterPolicies.PrefixAffinity, csv.Policy);
    }

    [Fact]
    public void PolicyIsSelectedByNameIgnoringCase()
    {
        var o = Read(("Router:Replicas", "http://a:1"), ("Router:Policy", "roundrobin"));
        Assert.Equal(RouterPolicies.RoundRobin, o.Policy);
    }

    [Theory]
    [InlineData("Router:Policy", "Sticky", "Router:Policy 'Sticky' is unknown")]
    [InlineData("Router:LoadFactor", "-1", "Router:LoadFactor")]
    [InlineData("Router:PrefixBytes", "1", "Router:PrefixBytes")]
    [InlineData("Router:Replicas", "ftp://x", "not an absolute http(s) address")]
    [InlineData("Router:Replicas", "http://a:1,http://a:1/", "twice")]
    public void BadValuesAreRefusedByName(string key, string value, string message)
    {
        var values = new List<(string, string)> { (key, value) };
        if (key != "Router:Replicas")
        {
            values.Add(("Router:Replicas", "http://a:1"));
        }

        var e = Assert.Throws<InvalidOperationException>(() => Read([.. values]));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void NoReplicasIsAClearError()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Read());
        Assert.Contains("No replicas are configured", e.Message);
    }
}
