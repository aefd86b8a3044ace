using Microsoft.Extensions.AI;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;
using PagedAttention.Tests.Chat;

using static PagedAttention.Tests.Engine.EngineTestKit;

namespace PagedAttention.Tests.Engine;

/// <summary>Pinned prefixes (issue 21, items 4 and 5): never evicted while pinned, evictable after, salts respected, the share refused.</summary>
public class PrefixPinTests
{
    private static readonly string ModelDir = TestData.Model("llama");
    private const int Preamble = 48; // three 16-token blocks

    // 24 blocks: the flood below (8 prompts of 4 blocks each) evicts every free cached block between rounds.
    private static Task<LlmEngine> Load(int blocks = 24, double share = 0.5) =>
        LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir, NumKvBlocks = blocks, MaxNumSeqs = 4, MaxNumBatchedTokens = 256, MaxPinnedKvFraction = share });

    private static int[] RandomTokens(Random rnd, int n) => Enumerable.Range(0, n).Select(_ => rnd.Next(3, 384)).ToArray();

    private static async Task Flood(LlmEngine e, Random rnd)
    {
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Tokens(e, RandomTokens(rnd, 60), Greedy(4))));
        await WaitAllFree(e);
    }

    private static async Task<int> CachedTokens(LlmEngine e, int[] preamble, int[] tail, string? salt = null)
    {
        var outputs = await Collect(e, [.. preamble, .. tail], new SamplingParams { Temperature = 0, MaxTokens = 2, IgnoreEos = true, CacheSalt = salt });
        return outputs[0].CachedTokens;
    }

    [Fact]
    public async Task PinnedPreamble_HitsEveryRound_UnderEvictingPressure_AndIsEvictableAfterUnpin()
    {
        await using var e = await Load();
        e.VerifyInvariants = true;
        var rnd = new Random(5);
        var pinned = RandomTokens(rnd, Preamble);
        var control = RandomTokens(rnd, Preamble);
        var expected = await Tokens(e, [.. pinned, 7, 8, 9], Greedy(6)); // before any pin

        var pin = await e.PinPrefixAsync(pinned);
        Assert.True(pin.IsPinned);
        Assert.Equal(Preamble, pin.NumTokens);
        Assert.Equal(3, pin.NumBlocks);
        var m = e.GetMetrics();
        Assert.Equal(3, m.KvBlocksPinned);
        Assert.Equal(1, m.PinnedPrefixes);
        Assert.Equal(m.KvBlocksTotal - 3, m.KvBlocksFree); // pinned blocks count against the pool

        for (int round = 0; round < 3; round++)
        {
            Assert.Equal(0, await CachedTokens(e, control, [11, 12])); // evicted by the last flood (or never seen)
            await CachedTokens(e, control, [11, 12]);                  // now cached, but not pinned...
            await Flood(e, rnd);                                        // ...so this evicts it,
            Assert.Equal(0, await CachedTokens(e, control, [13, 14]));
            Assert.Equal(Preamble, await CachedTokens(e, pinned, RandomTokens(rnd, 1 + round))); // while the pin hits every round
            await Flood(e, rnd);
        }
        Assert.Equal(expected, await Tokens(e, [.. pinned, 7, 8, 9], Greedy(6))); // same output from the pinned blocks

        await pin.DisposeAsync();
        Assert.False(pin.IsPinned);
        m = e.GetMetrics();
        Assert.Equal(0, m.KvBlocksPinned);
        Assert.Equal(0, m.PinnedPrefixes);
        Assert.Equal(m.KvBlocksTotal, m.KvBlocksFree);
        await Flood(e, rnd);
        Assert.Equal(0, await CachedTokens(e, pinned, [21, 22])); // evictable again
        await pin.DisposeAsync(); // idempotent
        Assert.Null(e.LoopFailure);
    }

    [Fact]
    public async Task Pins_RespectSalts()
    {
        await using var e = await Load();
        e.VerifyInvariants = true;
        var rnd = new Random(6);
        var preamble = RandomTokens(rnd, Preamble);
        await using var pin = await e.PinPrefixAsync(preamble, cacheSalt: "tenant-a");
        Assert.Equal("tenant-a", pin.CacheSalt);
        await Flood(e, rnd);
        Assert.Equal(0, await CachedTokens(e, preamble, [5, 6]));                 // unsalted: not the tenant's blocks
        Assert.Equal(0, await CachedTokens(e, preamble, [5, 6], "tenant-b"));     // another tenant: neither
        await Flood(e, rnd);
        Assert.Equal(Preamble, await CachedTokens(e, preamble, [5, 6], "tenant-a"));
        // An unsalted pin of the same tokens is a different set of blocks.
        await using var plain = await e.PinPrefixAsync(preamble);
        Assert.Equal(6, e.GetMetrics().KvBlocksPinned);
        await Flood(e, rnd);
        Assert.Equal(Preamble, await CachedTokens(e, preamble, [5, 6]));
    }

    [Fact]
    public async Task Pinning_BeyondTheShare_IsRefused_AndSamePrefixTwice_SharesBlocks()
    {
        await using var e = await Load(blocks: 24, share: 0.5); // at most 12 pinned blocks
        var rnd = new Random(7);
        var big = RandomTokens(rnd, 13 * 16);
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => e.PinPrefixAsync(big));
        Assert.Contains("MaxPinnedKvFraction", ex.Message);

        var a = RandomTokens(rnd, 8 * 16);
        var b = RandomTokens(rnd, 8 * 16);
        await using var pinA = await e.PinPrefixAsync(a);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => e.PinPrefixAsync(b));
        Assert.Contains("MaxPinnedKvFraction", refused.Message);
        Assert.Equal(8, e.GetMetrics().KvBlocksPinned);

        // The same prefix again holds the same blocks (counted once) and needs both handles gone to unpin.
        var again = await e.PinPrefixAsync([.. a, 1, 2, 3]);
        Assert.Equal(8, again.NumBlocks);
        Assert.Equal(8, e.GetMetrics().KvBlocksPinned);
        Assert.Equal(2, e.GetMetrics().PinnedPrefixes);
        await again.DisposeAsync();
        Assert.Equal(8, e.GetMetrics().KvBlocksPinned);

        await Assert.ThrowsAsync<ArgumentException>(() => e.PinPrefixAsync([1, 2, 3])); // shorter than a block
        await Assert.ThrowsAsync<ArgumentException>(() => e.PinPrefixAsync(a, cacheSalt: ""));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => e.PinPrefixAsync(b, cancellationToken: new CancellationToken(true)));
        Assert.Null(e.LoopFailure);
    }

    [Fact]
    public async Task Pinning_WithPrefixCachingOff_IsRefused()
    {
        await using var e = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir, NumKvBlocks = 24, EnablePrefixCaching = false });
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => e.PinPrefixAsync(new int[32]));
        Assert.Contains("EnablePrefixCaching", ex.Message);
    }

    [Fact]
    public async Task ChatClient_PinsInstructions_AsTheTemplateRendersThem()
    {
        await using var e = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ChatClientTests.DefaultModel, NumKvBlocks = 64, MaxNumSeqs = 4 });
        using var client = new PagedAttentionChatClient(e);
        // About 23 blocks with the default model's tokenizer: under the pins' share (half of 64 blocks).
        string instructions = string.Join(" ", Enumerable.Range(0, 20).Select(i => $"Rule {i}: be precise and brief."));
        await using var pin = await client.PinInstructionsAsync(instructions);
        Assert.True(pin.NumBlocks >= 4, pin.ToString());

        // Another conversation's traffic fills the small pool; the instructions stay.
        for (int i = 0; i < 6; i++)
            await client.GetResponseAsync([new ChatMessage(ChatRole.User, string.Join(" ", Enumerable.Range(0, 60).Select(j => $"word{i}x{j}")))], new ChatOptions { MaxOutputTokens = 4 });
        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Summarize the rules.")], new ChatOptions { Instructions = instructions, MaxOutputTokens = 4, Temperature = 0 });
        var usage = response.Usage!;
        Assert.True(usage.CachedInputTokenCount >= pin.NumTokens, $"cached {usage.CachedInputTokenCount} of {usage.InputTokenCount}, pinned {pin.NumTokens}");
    }
}
