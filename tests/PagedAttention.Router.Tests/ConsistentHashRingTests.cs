using System.Text;
using PagedAttention.Router.Routing;

namespace PagedAttention.Router.Tests;

public sealed class ConsistentHashRingTests
{
    private static readonly string[] Four = ["http://127.0.0.1:8001", "http://127.0.0.1:8002", "http://127.0.0.1:8003", "http://127.0.0.1:8004"];

    private static ulong Key(int i) => ConsistentHashRing.Hash(Encoding.UTF8.GetBytes($"system prompt of agent group {i}"));

    [Fact]
    public void SameKeyGoesToSameMemberAndMemberOrderDoesNotMatter()
    {
        var ring = new ConsistentHashRing(Four, 160);
        var reversed = new ConsistentHashRing(Four.Reverse().ToArray(), 160);
        for (var i = 0; i < 2000; i++)
        {
            var owner = ring.Owner(Key(i));
            Assert.Equal(owner, ring.Pick(Key(i), _ => 0, null, capacity: 1));
            Assert.Equal(owner, ring.Owner(Key(i)));
            Assert.Equal(ring.Members[owner], reversed.Members[reversed.Owner(Key(i))]);
        }
    }

    [Fact]
    public void KeysSpreadOverAllMembers()
    {
        var ring = new ConsistentHashRing(Four, 160);
        var counts = new int[4];
        const int keys = 20_000;
        for (var i = 0; i < keys; i++)
        {
            counts[ring.Owner(Key(i))]++;
        }

        // 160 virtual nodes each: every member owns 25 % ± a few points of the key space.
        Assert.All(counts, c => Assert.InRange(c, keys * 0.19, keys * 0.31));
    }

    [Fact]
    public void RemovingAMemberMovesOnlyItsKeysAndSkippingItAgreesWithRemovingIt()
    {
        var ring = new ConsistentHashRing(Four, 160);
        var three = new ConsistentHashRing([Four[0], Four[1], Four[3]], 160);
        var moved = 0;
        for (var i = 0; i < 5000; i++)
        {
            var before = ring.Members[ring.Owner(Key(i))];
            var after = three.Members[three.Owner(Key(i))];
            if (before != Four[2])
            {
                Assert.Equal(before, after);
            }
            else
            {
                moved++;
                Assert.NotEqual(Four[2], after);
            }

            // The router keeps every configured member on its ring and skips an ejected one: same answer.
            var skipped = ring.Pick(Key(i), _ => 0, m => m != 2, capacity: 1);
            Assert.Equal(after, ring.Members[skipped]);
        }

        Assert.InRange(moved, 5000 * 0.19, 5000 * 0.31);
    }

    [Fact]
    public void FullOwnerSpillsToTheNextMemberOnTheRingThenTheOneAfter()
    {
        var ring = new ConsistentHashRing(Four, 160);
        var key = Key(7);
        var order = ring.Sequence(key);
        Assert.Equal(4, order.Distinct().Count());
        Assert.Equal(ring.Owner(key), order[0]);

        var loads = new int[4];
        loads[order[0]] = 5;
        Assert.Equal(order[0], ring.Pick(key, m => loads[m], null, capacity: 6));
        Assert.Equal(order[1], ring.Pick(key, m => loads[m], null, capacity: 5));
        loads[order[1]] = 5;
        Assert.Equal(order[2], ring.Pick(key, m => loads[m], null, capacity: 5));

        // Everyone full: the least loaded one (the earliest on the walk among equals), never a refusal.
        loads[order[2]] = 4;
        loads[order[3]] = 7;
        Assert.Equal(order[2], ring.Pick(key, m => loads[m], null, capacity: 4));
        loads[order[2]] = 5;
        Assert.Equal(order[0], ring.Pick(key, m => loads[m], null, capacity: 4));
        Assert.Equal(-1, ring.Pick(key, m => loads[m], _ => false, capacity: 5));
    }

    [Fact]
    public void ASpillPrefersAMemberThatServedTheKeyBeforeWhenItHasRoom()
    {
        var ring = new ConsistentHashRing(Four, 160);
        var key = Key(11);
        var order = ring.Sequence(key);
        var loads = new int[4];
        loads[order[0]] = 4; // the owner is full at capacity 4

        // Nobody served it before: the next member on the ring.
        Assert.Equal(order[1], ring.Pick(key, m => loads[m], null, 4));
        // The third member served it before: it is preferred over the second while it has room ...
        Assert.Equal(order[2], ring.Pick(key, m => loads[m], null, 4, m => m == order[2]));
        // ... but not once it is full, and never over an owner with room.
        loads[order[2]] = 4;
        Assert.Equal(order[1], ring.Pick(key, m => loads[m], null, 4, m => m == order[2]));
        loads[order[0]] = 0;
        Assert.Equal(order[0], ring.Pick(key, m => loads[m], null, 4, m => m == order[2]));
        // An ejected owner: its successor acts as the owner.
        Assert.Equal(order[1], ring.Pick(key, m => loads[m], m => m != order[0], 4, m => m == order[3]));
    }

    [Theory]
    [InlineData(0, 4, 0.25, 0, 1)]
    [InlineData(3, 4, 0.25, 0, 2)]   // ceil(1.25 * 4 / 4) = 2
    [InlineData(99, 4, 0.25, 0, 32)] // ceil(1.25 * 100 / 4) = 32 (31.25 rounded up)
    [InlineData(99, 4, 0.0, 0, 25)]
    [InlineData(3, 4, 0.25, 8, 8)]   // the low-load floor
    public void CapacityIsTheBoundedLoadFormula(int total, int members, double epsilon, int min, int expected) =>
        Assert.Equal(expected, ConsistentHashRing.Capacity(total, members, epsilon, min));

    [Fact]
    public void OneHotKeyCannotOverloadItsOwner()
    {
        // 400 requests with the same key arrive and none leaves: the bounded-load walk keeps every member within
        // (1+ε) of the mean at each step, and the owner takes the most (it is first on the walk).
        var ring = new ConsistentHashRing(Four, 160);
        var key = Key(3);
        var loads = new int[4];
        for (var total = 0; total < 400; total++)
        {
            var capacity = ConsistentHashRing.Capacity(total, 4, 0.25, 0);
            var pick = ring.Pick(key, m => loads[m], null, capacity);
            loads[pick]++;
            Assert.All(loads, l => Assert.True(l <= capacity, $"load {l} over capacity {capacity}"));
        }

        Assert.Equal(ConsistentHashRing.Capacity(399, 4, 0.25, 0), loads[ring.Owner(key)]);
        Assert.Equal(400, loads.Sum());
        Assert.All(loads, l => Assert.True(l <= 125));
    }

    [Fact]
    public void BadArgumentsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new ConsistentHashRing([], 4));
        Assert.Throws<ArgumentException>(() => new ConsistentHashRing(["a", "a"], 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConsistentHashRing(["a"], 0));
    }
}
