using PagedAttention.AI.KvCache;

namespace PagedAttention.Tests.KvCache;

/// <summary>
/// The prefix cache's host tier against a reference LRU model (a list, most recently used last) under random
/// operations, with <see cref="HostPrefixTier.CheckInvariants"/> after each; and the invariant check catching a corrupted tier.
/// </summary>
public sealed class HostPrefixTierTests
{
    private static BlockHash H(int i) => new((ulong)i * 0x9E3779B97F4A7C15UL + 1, (ulong)i);

    [Theory]
    [InlineData(1, 1)]
    [InlineData(4, 2)]
    [InlineData(8, 3)]
    [InlineData(32, 4)]
    public void MatchesAReferenceLru_AndKeepsItsInvariants(int blocks, int seed)
    {
        var tier = new HostPrefixTier(blocks);
        var lru = new List<int>();          // hashes held, least recently used first
        var held = new Dictionary<int, int>(); // hash -> host block
        var busy = new HashSet<int>();      // hashes whose block a pending copy uses
        var rng = new Random(seed);
        int offers = 0, drops = 0, refusals = 0;
        for (int step = 0; step < 4000; step++)
        {
            int h = rng.Next(3 * blocks + 2), op = rng.Next(10);
            if (op < 6)
            {
                int got = tier.Offer(H(h));
                offers++;
                if (held.ContainsKey(h))
                {
                    Assert.Equal(-1, got);
                    lru.Remove(h); lru.Add(h);
                }
                else if (held.Count < blocks)
                {
                    Assert.True(got >= 0 && !held.ContainsValue(got), $"step {step}: offer of a new hash with room gave {got}");
                    held[h] = got; lru.Add(h); busy.Add(h);
                }
                else
                {
                    int victim = lru.FirstOrDefault(x => !busy.Contains(x), -1);
                    if (victim < 0) { Assert.Equal(-1, got); refusals++; }
                    else
                    {
                        Assert.Equal(held[victim], got); // the least recently used block no pending copy reads
                        held.Remove(victim); lru.Remove(victim); drops++;
                        held[h] = got; lru.Add(h); busy.Add(h);
                    }
                }
            }
            else if (op < 8)
            {
                int found = tier.Find(H(h));
                Assert.Equal(held.TryGetValue(h, out int id) ? id : -1, found);
                if (found >= 0) { tier.Use(found); lru.Remove(h); lru.Add(h); busy.Add(h); }
            }
            else { tier.CopiesDone(); busy.Clear(); }
            Assert.Equal(held.Count, tier.Count);
            tier.CheckInvariants();
        }
        Assert.True(offers > 1000 && (blocks == 1 || drops > 0), $"{offers} offers, {drops} drops, {refusals} refusals");
    }

    [Fact]
    public void TheInvariantCheckSeesACorruptedLruList()
    {
        var tier = new HostPrefixTier(4);
        for (int i = 0; i < 3; i++) tier.Offer(H(i));
        tier.CheckInvariants();
        var next = (int[])typeof(HostPrefixTier).GetField("_next", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(tier)!;
        int head = (int)typeof(HostPrefixTier).GetField("_head", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(tier)!;
        next[head] = -1; // the list now ends after its first block
        var e = Assert.Throws<InvalidOperationException>(tier.CheckInvariants);
        Assert.Contains("LRU", e.Message);
    }
}
