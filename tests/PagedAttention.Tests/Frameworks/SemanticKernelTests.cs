using System.ComponentModel;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Services;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using PagedAttention.Tests.Chat;

namespace PagedAttention.Tests.Frameworks;

/// <summary>PagedAttention.SemanticKernel: registration, prompt functions with usage metadata, auto function choice.</summary>
public sealed class SemanticKernelTests : IAsyncLifetime
{
    private LlmEngine _engine = null!;

    public async Task InitializeAsync() =>
        _engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ChatClientTests.DefaultModel, MaxNumSeqs = 8, NumKvBlocks = 256 });

    public async Task DisposeAsync() => await _engine.DisposeAsync();

    private Kernel BuildKernel(string? serviceId = null)
    {
        var builder = Kernel.CreateBuilder();
        builder.AddPagedAttentionChatCompletion(_engine, serviceId);
        return builder.Build();
    }

    private static PromptExecutionSettings Greedy(int maxTokens) =>
        new() { ExtensionData = new Dictionary<string, object> { ["temperature"] = 0, ["max_tokens"] = maxTokens } };

    [Fact]
    public void GetRequiredService_ReturnsBothServicesOverTheOneEngine()
    {
        var kernel = BuildKernel();
        var completion = kernel.GetRequiredService<IChatCompletionService>();
        var client = kernel.GetRequiredService<IChatClient>();
        Assert.Same(_engine, client.GetService<LlmEngine>());
        Assert.Equal("default", completion.GetModelId());
    }

    [Fact]
    public void ServiceId_RegistersKeyedServices()
    {
        var kernel = BuildKernel("local");
        Assert.NotNull(kernel.GetRequiredService<IChatCompletionService>("local"));
        Assert.NotNull(kernel.Services.GetRequiredKeyedService<IChatClient>("local"));
    }

    [Fact]
    public void ArgumentsAreChecked()
    {
        Assert.Throws<ArgumentNullException>(() => ((IKernelBuilder)null!).AddPagedAttentionChatCompletion(_engine));
        Assert.Throws<ArgumentNullException>(() => Kernel.CreateBuilder().AddPagedAttentionChatCompletion((LlmEngine)null!));
        Assert.Throws<ArgumentNullException>(() => Kernel.CreateBuilder().AddPagedAttentionChatCompletion((Action<EngineOptions>)null!));
    }

    [Fact]
    public async Task ChatCompletionService_AnswersAChatHistory()
    {
        var service = BuildKernel().GetRequiredService<IChatCompletionService>();
        var history = new ChatHistory("You write the news.");
        history.AddUserMessage("Tell me about the city.");
        var reply = await service.GetChatMessageContentAsync(history, Greedy(6));
        Assert.Equal(AuthorRole.Assistant, reply.Role);
        Assert.False(string.IsNullOrWhiteSpace(reply.Content));
    }

    [Fact]
    public async Task StreamingChatCompletion_StreamsTextAndEndsWithUsage()
    {
        var service = BuildKernel().GetRequiredService<IChatCompletionService>();
        var history = new ChatHistory("You write the news.");
        history.AddUserMessage("Tell me about the river.");
        var text = new System.Text.StringBuilder();
        UsageDetails? usage = null;
        await foreach (var chunk in service.GetStreamingChatMessageContentsAsync(history, Greedy(6)))
        {
            text.Append(chunk.Content);
            // SK 1.82 puts the UsageContent itself there when streaming (UsageDetails when not).
            if (chunk.Metadata?.TryGetValue("Usage", out var u) == true) usage = Assert.IsType<UsageContent>(u).Details;
        }
        Assert.False(string.IsNullOrWhiteSpace(text.ToString()));
        // The engine's one final UsageContent reaches SK's streaming chunks under the same "Usage" key.
        Assert.NotNull(usage);
        Assert.True(usage!.OutputTokenCount > 0);
    }

    [Fact]
    public async Task InvokePromptAsync_ReturnsTextAndUsageWithCachedTokensOnTheSecondCall()
    {
        var kernel = BuildKernel();
        string preamble = string.Concat(Enumerable.Repeat("The county board met on Monday night in the old court house and voted on the roads. ", 8));
        var first = await kernel.InvokePromptAsync(preamble + "Tell about the roads.", new KernelArguments(Greedy(4)));
        var second = await kernel.InvokePromptAsync(preamble + "Tell about the schools.", new KernelArguments(Greedy(4)));
        Assert.False(string.IsNullOrWhiteSpace(first.GetValue<string>()));
        var usage1 = Assert.IsType<UsageDetails>(Assert.Contains("Usage", (IReadOnlyDictionary<string, object?>)first.Metadata!));
        var usage2 = Assert.IsType<UsageDetails>(Assert.Contains("Usage", (IReadOnlyDictionary<string, object?>)second.Metadata!));
        Assert.True(usage1.InputTokenCount > 0);
        Assert.True(usage1.OutputTokenCount > 0);
        // The second prompt shares the preamble's full KV blocks with the first.
        Assert.True(usage2.CachedInputTokenCount > 0, $"cached {usage2.CachedInputTokenCount}");
    }

    private sealed class CountyPlugin
    {
        public int Calls;

        [KernelFunction, Description("Gets the weather in a town.")]
        public string GetWeather([Description("The town")] string town) { Interlocked.Increment(ref Calls); return $"Rain in {town}."; }
    }

    [Fact]
    public async Task FunctionChoiceBehaviorAuto_WithAPlugin_Runs()
    {
        var kernel = BuildKernel();
        var plugin = new CountyPlugin();
        kernel.Plugins.AddFromObject(plugin, "county");
        var settings = new PromptExecutionSettings
        {
            FunctionChoiceBehavior = FunctionChoiceBehavior.Auto(),
            ExtensionData = new Dictionary<string, object> { ["temperature"] = 0, ["max_tokens"] = 8 },
        };
        var result = await kernel.InvokePromptAsync("What is the weather in Columbus?", new KernelArguments(settings));
        // The default model is a tiny story model whose template does not render tools, so it does not call the
        // function; what is true either way: the auto-invocation loop completes with text and usage.
        Assert.NotNull(result.GetValue<string>());
        Assert.Contains("Usage", (IReadOnlyDictionary<string, object?>)result.Metadata!);
    }

    [Fact]
    public async Task OptionsOverload_LoadsTheEngineOnFirstUseAndDisposesItWithTheProvider()
    {
        var builder = Kernel.CreateBuilder();
        builder.AddPagedAttentionChatCompletion(o => { o.ModelPath = ChatClientTests.DefaultModel; o.NumKvBlocks = 16; });
        var kernel = builder.Build();
        var service = kernel.GetRequiredService<IChatCompletionService>();
        Assert.Same(kernel.GetRequiredService<LlmEngine>(), kernel.GetRequiredService<IChatClient>().GetService<LlmEngine>());
        var reply = await service.GetChatMessageContentAsync(new ChatHistory("Hello"), Greedy(2));
        Assert.NotNull(reply.Content);
        await ((IAsyncDisposable)kernel.Services).DisposeAsync();
    }
}
