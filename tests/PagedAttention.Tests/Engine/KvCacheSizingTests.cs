using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;

namespace PagedAttention.Tests.Engine;

/// <summary>The CPU KV cache's default size: MaxNumSeqs full-length sequences, at least one, at most 1 GiB.</summary>
public sealed class KvCacheSizingTests
{
    private static readonly ModelConfig Default = ModelConfig.Load(ModelLocator.DefaultModelDirectory);

    // The default model: 6 layers x 2 KV heads x 64 dims x K and V x 4 bytes; max_position_embeddings 4096.
    private const long DefaultBytesPerToken = 6L * 2 * 64 * 2 * 4;

    [Fact]
    public void MaxNumSeqsFullLengthSequences()
    {
        Assert.Equal(16L * 4096 * DefaultBytesPerToken, KvCacheSizing.CpuDefaultBytes(Default, DefaultBytesPerToken, new EngineOptions { MaxNumSeqs = 16 }));
        Assert.Equal(64L * 512 * DefaultBytesPerToken, KvCacheSizing.CpuDefaultBytes(Default, DefaultBytesPerToken, new EngineOptions { MaxModelLen = 512 }));
    }

    [Fact]
    public void AtLeastOneFullLengthSequenceInWholeBlocks()
    {
        long bytes = KvCacheSizing.CpuDefaultBytes(Default, DefaultBytesPerToken, new EngineOptions { MaxNumSeqs = 1, MaxModelLen = 1000, BlockSize = 16 });
        Assert.Equal(1008 * DefaultBytesPerToken, bytes);
    }

    [Fact]
    public void NeverMoreThanOneGiB()
    {
        Assert.Equal(1L << 30, KvCacheSizing.CpuDefaultBytes(Default, DefaultBytesPerToken, new EngineOptions())); // 64 x 4096 x 6 KiB = 1.5 GiB, capped
        Assert.Equal(768L << 20, KvCacheSizing.CpuDefaultBytes(Default, DefaultBytesPerToken, new EngineOptions { MaxNumSeqs = 32 })); // 32 x 4096 x 6 KiB
        Assert.Equal(1L << 30, KvCacheSizing.CpuDefaultBytes(Default, DefaultBytesPerToken, new EngineOptions { MaxNumSeqs = 128 }));
        Assert.Equal(1L << 30, KvCacheSizing.CpuDefaultBytes(Default, 256 * 1024, new EngineOptions { MaxNumSeqs = int.MaxValue }));
    }

    [Fact]
    public async Task EngineUsesTheModelSizedDefaultAndAnExplicitSizeWins()
    {
        await using (var engine = await LlmEngine.LoadAsync(new EngineOptions { MaxNumSeqs = 4 }))
            Assert.Equal(4 * 4096 / 16, engine.NumKvBlocks);
        await using (var engine = await LlmEngine.LoadAsync(new EngineOptions { KvCacheBytes = 100 * 16 * DefaultBytesPerToken }))
            Assert.Equal(100, engine.NumKvBlocks);
    }
}
