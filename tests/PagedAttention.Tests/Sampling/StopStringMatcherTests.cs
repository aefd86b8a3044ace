using PagedAttention.AI.Sampling;

namespace PagedAttention.Tests.Sampling;

public class StopStringMatcherTests
{
    [Fact]
    public void StopAcrossTokenBoundaries_EmitsNothingFromTheStopOn()
    {
        var m = new StopStringMatcher(["STOP", "\n\n"]);
        var emitted = "";
        bool stopped = false;
        foreach (var d in new[] { "Hel", "lo S", "T", "OP and more" })
        {
            emitted += m.Push(d, out stopped);
            if (stopped) break;
        }
        Assert.True(stopped);
        Assert.Equal("Hello ", emitted);
    }

    [Fact]
    public void PartialMatch_IsHeldThenReleased()
    {
        var m = new StopStringMatcher(["</end>"]);
        Assert.Equal("a", m.Push("a</e", out bool s1));
        Assert.False(s1);
        Assert.Equal("</ex", m.Push("x", out bool s2));
        Assert.False(s2);
        Assert.Equal("", m.Push("</", out _));
        Assert.Equal("</", m.Flush());
    }

    [Fact]
    public void EarliestStopWins_AndNoStopsPassesThrough()
    {
        var m = new StopStringMatcher(["cd", "bc"]);
        Assert.Equal("a", m.Push("abcd", out bool stopped));
        Assert.True(stopped);
        var none = new StopStringMatcher([]);
        Assert.Equal("xyz", none.Push("xyz", out stopped));
        Assert.False(stopped);
    }
}
