using PagedAttention.AI.Engine;
using PagedAttention.Kernels.Cuda.Interop;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.Tests.Architecture;

/// <summary>
/// The public surface is small and listed in docs/architecture.md: a type that becomes public (or stops being public)
/// fails here until the list and the doc agree.
/// </summary>
public class PublicApiTests
{
    [Fact]
    public void AiProject_ExportsOnlyTheListedTypes() => AssertExports(typeof(LlmEngine).Assembly,
    [
        "PagedAttention.AI.Engine.BeamHypothesis",
        "PagedAttention.AI.Engine.EngineMetrics",
        "PagedAttention.AI.Engine.EngineOptions",
        "PagedAttention.AI.Engine.GenerationOutput",
        "PagedAttention.AI.Engine.LlmEngine",
        "PagedAttention.AI.Engine.PrefixPin",
        "PagedAttention.AI.Engine.WeightQuantization",
        "PagedAttention.AI.Engine.KvCacheDtype",
        "PagedAttention.AI.LlmEngineChatClientExtensions",
        "PagedAttention.AI.Models.IDecoderModel",
        "PagedAttention.AI.Models.ModelConfig",
        "PagedAttention.AI.Models.ModelLoadException",
        "PagedAttention.AI.Models.RopeScaling",
        "PagedAttention.AI.Models.RopeType",
        "PagedAttention.AI.Observability.PagedAttentionTelemetry",
        "PagedAttention.AI.PagedAttentionChatClient",
        "Microsoft.Extensions.DependencyInjection.PagedAttentionServiceCollectionExtensions",
        "PagedAttention.AI.Requests.FinishReason",
        "PagedAttention.AI.Sampling.BeamEarlyStopping",
        "PagedAttention.AI.Sampling.IStreamingDetokenizer",
        "PagedAttention.AI.Sampling.SamplingParams",
        "PagedAttention.AI.Sampling.TokenLogprob",
        "PagedAttention.AI.Tokenization.MLTokenizerAdapter",
        "PagedAttention.AI.Tokenization.MLTokenizerExtensions",
    ]);

    [Fact]
    public void KernelsProject_ExportsOnlyTheCudaException() => AssertExports(typeof(CudaException).Assembly,
    [
        "PagedAttention.Kernels.Cuda.Interop.CudaException",
    ]);

    [Fact]
    public void TextProject_ExportsTheTokenizerAndTemplateApi() => AssertExports(typeof(Tokenizer).Assembly,
    [
        "PagedAttention.Text.Templates.ChatTemplate",
        "PagedAttention.Text.Templates.TemplateException",
        "PagedAttention.Text.Templates.TemplateLimits",
        "PagedAttention.Text.Templates.TemplateRaisedException",
        "PagedAttention.Text.Tokenization.StreamingDecoder",
        "PagedAttention.Text.Tokenization.Tokenizer",
        "PagedAttention.Text.Tokenization.TokenizerLoadException",
    ]);

    [Fact]
    public void EngineOptions_PublishesItsLimitsAsConstants() => Assert.Equal(
        ["KvCacheBytesLimit", "MaxModelLenLimit", "MaxNumBatchedTokensLimit", "MaxNumSeqsLimit", "NumKvBlocksLimit"],
        typeof(EngineOptions).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(f => f.IsLiteral).Select(f => f.Name).Order(StringComparer.Ordinal));

    [Fact]
    public void TokenizerLoadException_NamesItsFile()
    {
        var e = new TokenizerLoadException("model.vocab: expected an object", "/m/tokenizer.json", null);
        Assert.Equal("/m/tokenizer.json", e.FilePath);
        Assert.Equal("/m/tokenizer.json: model.vocab: expected an object", e.Message);
        Assert.Null(new TokenizerLoadException("x").FilePath);
    }

    [Fact]
    public void SemanticKernelProject_ExportsOnlyTheRegistrationExtensions() => AssertExports(typeof(Microsoft.SemanticKernel.PagedAttentionKernelBuilderExtensions).Assembly,
    [
        "Microsoft.Extensions.DependencyInjection.PagedAttentionSemanticKernelServiceCollectionExtensions",
        "Microsoft.SemanticKernel.PagedAttentionKernelBuilderExtensions",
    ]);

    [Fact]
    public void ServerProject_ExportsTheOptionsAndTheTwoExtensions() => AssertExports(typeof(PagedAttention.Server.OpenAIServerOptions).Assembly,
    [
        "Microsoft.AspNetCore.Builder.OpenAIEndpointRouteBuilderExtensions",
        "Microsoft.Extensions.DependencyInjection.OpenAIServerServiceCollectionExtensions",
        "PagedAttention.Server.ApiKeyOptions",
        "PagedAttention.Server.OpenAIServerOptions",
        "Program", // the entry point: the .NET 10 Web SDK makes a web app's top-level Program public (for WebApplicationFactory)
    ]);

    private static void AssertExports(System.Reflection.Assembly asm, string[] expected) =>
        Assert.Equal(expected.Order(StringComparer.Ordinal), asm.GetExportedTypes().Select(t => t.FullName!).Order(StringComparer.Ordinal));
}
