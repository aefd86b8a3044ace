using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;

namespace PagedAttention.Tests.Engine;

/// <summary>The CPU KV cache's default size: max(MaxModelLen, MaxNumSeqs x 256) tokens, at most 1 GiB.</summary>
public sealed class KvCacheSizingTests
{
    private static readonly ModelConfig Default = ModelConfig.Load(ModelLocator.DefaultModelDirectory);

    // The default model: 6 layers x 2 KV heads x 64 dims x K and V x 4 bytes.
    private const long DefaultBytesPerToken = 6L * 2 * 64 * 2 * 4;

    [Fact]
    public void DefaultModelGetsMaxNumSeqsTimes256Tokens()
    {
        long bytes = KvCacheSizing.CpuDefaultBytes(Default, DefaultBytesPerToken, new EngineOptions());
        Assert.Equal(64L * 256 * DefaultBytesPerToken, bytes); // 96 MiB instead of 1 GiB
    }

    [Fact]
    public void AtLeastOneFullLengthSequenceFits()
    {
        long bytes = KvCacheSizing.CpuDefaultBytes(Default, DefaultBytesPerToken, new EngineOptions { MaxNumSeqs = 1 });
        Assert.Equal(2048 * DefaultBytesPerToken, bytes);
        bytes = KvCacheSizing.CpuDefaultBytes(Default, DefaultBytesPerToken, new EngineOptions { MaxNumSeqs = 1, MaxModelLen = 1000, BlockSize = 16 });
        Assert.Equal(1008 * DefaultBytesPerToken, bytes); // rounded up to whole blocks
    }

    [Fact]
    public void NeverMoreThanOneGiB()
    {
        long bytes = KvCacheSizing.CpuDefaultBytes(Default, 256 * 1024, new EngineOptions { MaxNumSeqs = 256 });
        Assert.Equal(1L << 30, bytes);
    }

    [Fact]
    public async Task EngineUsesTheModelSizedDefaultAndAnExplicitSizeWins()
    {
        await using (var engine = await LlmEngine.LoadAsync(new EngineOptions()))
            Assert.Equal(64 * 256 / 16, engine.NumKvBlocks);
        await using (var engine = await LlmEngine.LoadAsync(new EngineOptions { KvCacheBytes = 100 * 16 * DefaultBytesPerToken }))
            Assert.Equal(100, engine.NumKvBlocks);
    }
}
