using System.Globalization;
using PagedAttention.AI.Engine;

namespace PagedAttention.Tests.Loading;

/// <summary>Options whose size would make the engine allocate without bound fail with an ArgumentException naming the option and its limit.</summary>
public sealed class EngineOptionsLimitTests
{
    private static string Model => TestData.Model("llama");

    public static TheoryData<string, Action<EngineOptions>, long> AboveTheLimit => new()
    {
        { nameof(EngineOptions.MaxNumSeqs), o => o.MaxNumSeqs = int.MaxValue, EngineOptions.MaxNumSeqsLimit },
        { nameof(EngineOptions.MaxNumBatchedTokens), o => o.MaxNumBatchedTokens = int.MaxValue, EngineOptions.MaxNumBatchedTokensLimit },
        { nameof(EngineOptions.NumKvBlocks), o => o.NumKvBlocks = int.MaxValue, EngineOptions.NumKvBlocksLimit },
        { nameof(EngineOptions.KvCacheBytes), o => o.KvCacheBytes = long.MaxValue, EngineOptions.KvCacheBytesLimit },
        { nameof(EngineOptions.MaxModelLen), o => o.MaxModelLen = int.MaxValue, EngineOptions.MaxModelLenLimit },
        { nameof(EngineOptions.MaxNumSeqs), o => o.MaxNumSeqs = EngineOptions.MaxNumSeqsLimit + 1, EngineOptions.MaxNumSeqsLimit },
    };

    [Theory]
    [MemberData(nameof(AboveTheLimit))]
    public async Task AboveTheLimit_IsAnArgumentException_NamingTheOptionAndTheLimit(string option, Action<EngineOptions> set, long limit)
    {
        var o = new EngineOptions { ModelPath = Model };
        set(o);
        var e = Assert.Throws<ArgumentException>(o.Validate);
        Assert.Equal(option, e.ParamName);
        Assert.Contains("EngineOptions." + option, e.Message);
        Assert.Contains(limit.ToString(CultureInfo.InvariantCulture), e.Message);
        var viaLoad = await Assert.ThrowsAsync<ArgumentException>(() => LlmEngine.LoadAsync(o));
        Assert.Equal(option, viaLoad.ParamName);
    }

    [Fact]
    public void TheLimitsThemselves_AreAccepted()
    {
        new EngineOptions
        {
            ModelPath = Model,
            MaxNumSeqs = EngineOptions.MaxNumSeqsLimit,
            MaxNumBatchedTokens = EngineOptions.MaxNumBatchedTokensLimit,
            NumKvBlocks = EngineOptions.NumKvBlocksLimit,
            KvCacheBytes = EngineOptions.KvCacheBytesLimit,
            MaxModelLen = EngineOptions.MaxModelLenLimit,
        }.Validate();
    }

    [Fact]
    public async Task AKvCacheLargerThanTheMachine_IsAnArgumentException_BeforeAllocating()
    {
        // 4,194,304 blocks of the default model's 96 KiB: 384 GiB of host memory.
        var e = await Assert.ThrowsAsync<ArgumentException>(() =>
            LlmEngine.LoadAsync(new EngineOptions { ModelPath = Chat.ChatClientTests.DefaultModel, NumKvBlocks = EngineOptions.NumKvBlocksLimit }));
        Assert.Equal(nameof(EngineOptions.NumKvBlocks), e.ParamName);
        Assert.Contains("memory", e.Message);
    }

    [Fact]
    public async Task KvCacheBytesLargerThanTheMachine_IsAnArgumentException_BeforeAllocating()
    {
        // 1 TiB asks for the block limit (4,194,304) of the default model's 96 KiB blocks: 384 GiB.
        var e = await Assert.ThrowsAsync<ArgumentException>(() =>
            LlmEngine.LoadAsync(new EngineOptions { ModelPath = Chat.ChatClientTests.DefaultModel, KvCacheBytes = EngineOptions.KvCacheBytesLimit }));
        Assert.Equal(nameof(EngineOptions.KvCacheBytes), e.ParamName);
        Assert.Contains("memory", e.Message);
    }

    [Fact]
    public void HostBuffersLargerThanTheBudget_NameTheOptionThatAsksForTheMost()
    {
        using var model = AI.Models.LlamaModel.Load(Chat.ChatClientTests.DefaultModel);
        var o = new EngineOptions
        {
            ModelPath = Chat.ChatClientTests.DefaultModel,
            NumKvBlocks = 64,
            MaxNumSeqs = EngineOptions.MaxNumSeqsLimit,
            MaxNumBatchedTokens = EngineOptions.MaxNumBatchedTokensLimit,
        };
        o.Validate();
        // 1,048,576 batched tokens of the default model: about 16.5 GiB of CPU activations, plus 1 GiB of logits rows.
        var e = Assert.Throws<ArgumentException>(() => HostMemoryBudget.Check(o, model.Config, 64, model.KvBytesPerBlock(16), cpuActivations: true, availableBytes: 8L << 30));
        Assert.Equal(nameof(EngineOptions.MaxNumBatchedTokens), e.ParamName);
        Assert.Contains("EngineOptions.MaxNumBatchedTokens", e.Message);
        Assert.Contains("memory", e.Message);
        // The same options fit a larger budget, and the defaults fit a small one.
        HostMemoryBudget.Check(o, model.Config, 64, model.KvBytesPerBlock(16), cpuActivations: true, availableBytes: 64L << 30);
        var defaults = new EngineOptions { ModelPath = o.ModelPath, NumKvBlocks = 1024 };
        HostMemoryBudget.Check(defaults, model.Config, 1024, model.KvBytesPerBlock(16), cpuActivations: true, availableBytes: 1L << 30);
    }

    [Fact]
    public void OneBufferLongerThanAnArrayCanBe_IsAnArgumentException()
    {
        using var model = AI.Models.LlamaModel.Load(Chat.ChatClientTests.DefaultModel);
        // 65,536 sequences × 1,048,576 blocks each (MaxModelLen 16,777,216 / 16) of block tables.
        var o = new EngineOptions { ModelPath = Chat.ChatClientTests.DefaultModel, MaxNumSeqs = EngineOptions.MaxNumSeqsLimit, MaxModelLen = EngineOptions.MaxModelLenLimit };
        var big = new AI.Models.ModelConfig
        {
            Architecture = model.Config.Architecture, HiddenSize = 64, IntermediateSize = 64, NumLayers = 1, NumHeads = 1, NumKvHeads = 1, HeadDim = 64,
            VocabSize = 256, RmsNormEps = 1e-5f, Rope = model.Config.Rope, MaxPositionEmbeddings = EngineOptions.MaxModelLenLimit, TieWordEmbeddings = false,
            QkvBias = false, OBias = false, QkNorm = false, EosTokenIds = [],
        };
        var e = Assert.Throws<ArgumentException>(() => HostMemoryBudget.Check(o, big, EngineOptions.NumKvBlocksLimit, 0, cpuActivations: false, availableBytes: long.MaxValue));
        Assert.Equal(nameof(EngineOptions.MaxNumSeqs), e.ParamName);
        Assert.Contains("block tables", e.Message);
    }
}
