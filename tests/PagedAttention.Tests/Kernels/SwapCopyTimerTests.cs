using PagedAttention.Kernels.Cuda;

namespace PagedAttention.Tests.Kernels;

/// <summary>
/// <see cref="SwapCopyTimer"/>, the device-time accounting of the CUDA swap space's copy batches, on fake events: a
/// batch counts its (start, end) events' elapsed time once its end has completed, never the time its calls took to
/// queue the copies, and polling never waits.
/// </summary>
public class SwapCopyTimerTests
{
    /// <summary>
    /// A copy stream in miniature: each record gets the next sequence number; the stream has "run" up to
    /// <see cref="RanUpTo"/>; an event's time is what <see cref="Clock"/> said when it was recorded.
    /// </summary>
    private sealed class FakeEvents : ICopyEvents
    {
        private readonly Dictionary<nint, (long Seq, float Ms)> _recorded = [];
        private nint _next = 1;
        private long _seq;
        public readonly HashSet<nint> Live = [];
        public float Clock;
        public long RanUpTo;
        public int Creates;

        public nint Create() { Creates++; Live.Add(_next); return _next++; }
        public void Record(nint e) { Assert.Contains(e, Live); _recorded[e] = (++_seq, Clock); }
        public bool HasCompleted(nint e) => _recorded.TryGetValue(e, out var r) && r.Seq <= RanUpTo;
        public float ElapsedMilliseconds(nint start, nint end)
        {
            Assert.True(HasCompleted(start) && HasCompleted(end), "read before both events completed");
            return _recorded[end].Ms - _recorded[start].Ms;
        }
        public void Destroy(nint e) => Assert.True(Live.Remove(e), $"event {e} destroyed twice");
        public long Recorded => _seq;
    }

    [Fact]
    public void ABatchCountsItsDeviceTime_OnceItHasRun()
    {
        var ev = new FakeEvents();
        using var t = new SwapCopyTimer(ev);
        ev.Clock = 10; t.Begin();
        ev.Clock = 52.5f; t.End();       // the copies took 42.5 ms on the stream; queueing them took no time at all
        Assert.Equal(0, t.Poll());       // still running
        Assert.Equal(0, t.Seconds);
        Assert.Equal(1, t.Pending);
        ev.RanUpTo = ev.Recorded;
        Assert.Equal(1, t.Poll());
        Assert.Equal(0.0425, t.Seconds, 9);
        Assert.Equal(1, t.Batches);
        Assert.Equal(0, t.Pending);
        Assert.Equal(0, t.Poll());       // counted once
        Assert.Equal(0.0425, t.Seconds, 9);
    }

    [Fact]
    public void BatchesCompleteInStreamOrder_PollStopsAtTheFirstRunning()
    {
        var ev = new FakeEvents();
        using var t = new SwapCopyTimer(ev);
        for (int i = 0; i < 3; i++) { ev.Clock = 100 * i; t.Begin(); ev.Clock = 100 * i + (i + 1); t.End(); } // 1, 2, 3 ms
        ev.RanUpTo = 4;                  // batch 0 (records 1-2) and batch 1 (3-4) ran
        Assert.Equal(2, t.Poll());
        Assert.Equal(0.003, t.Seconds, 9);
        Assert.Equal(1, t.Pending);
        ev.RanUpTo = ev.Recorded;
        Assert.Equal(1, t.Poll());
        Assert.Equal(0.006, t.Seconds, 9);
        Assert.Equal(3, t.Batches);
    }

    [Fact]
    public void PairsAreReusedOnceRead()
    {
        var ev = new FakeEvents();
        using var t = new SwapCopyTimer(ev);
        for (int i = 0; i < 100; i++)
        {
            t.Begin(); ev.Clock += 0.5f; t.End();
            ev.RanUpTo = ev.Recorded;
            t.Poll();
        }
        Assert.Equal(2, ev.Creates);     // one pair, 100 batches
        Assert.Equal(0.05, t.Seconds, 6);
        t.Begin(); t.End(); t.Begin(); t.End(); // two in flight need a second pair
        Assert.Equal(4, ev.Creates);
    }

    [Fact]
    public void ABatchBegunAgainBeforeItsEnd_StartsOver()
    {
        var ev = new FakeEvents();
        using var t = new SwapCopyTimer(ev);
        ev.Clock = 0; t.Begin();         // its copies failed: no End
        ev.Clock = 7; t.Begin();
        ev.Clock = 9; t.End();
        ev.RanUpTo = ev.Recorded;
        t.Poll();
        Assert.Equal(0.002, t.Seconds, 9);
        Assert.Equal(2, ev.Creates);
        Assert.Throws<InvalidOperationException>(t.End);
    }

    [Fact]
    public void DisposeFreesEveryEvent_PendingAndOpenIncluded()
    {
        var ev = new FakeEvents();
        var t = new SwapCopyTimer(ev);
        t.Begin(); t.End();              // read and free
        ev.RanUpTo = ev.Recorded;
        t.Poll();
        t.Begin(); t.End(); t.Begin(); t.End(); // pending
        t.Begin();                       // open
        Assert.Equal(6, ev.Live.Count);
        t.Dispose();
        Assert.Empty(ev.Live);
        t.Dispose();
        Assert.Throws<ObjectDisposedException>(t.Begin);
    }
}
