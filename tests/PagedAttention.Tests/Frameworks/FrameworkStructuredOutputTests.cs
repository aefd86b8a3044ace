using System.ComponentModel;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using PagedAttention.Tests.Chat;

namespace PagedAttention.Tests.Frameworks;

/// <summary>
/// Structured output and required tool calls as the frameworks ask for them, on the embedded default model (which
/// cannot follow instructions: the constraint alone makes the output valid). The types and parameters have no free
/// strings, so this small model cannot ramble inside one.
/// </summary>
public sealed class FrameworkStructuredOutputTests : IAsyncLifetime
{
    public enum Mood { Calm, Busy, Stormy }

    public sealed record Forecast(Mood Mood, long Degrees, bool Rain, List<long> NextDays); // long: strict mode bounds integers to 64 bits, not 32

    public sealed class MathPlugin
    {
        public int Calls;

        [KernelFunction, Description("Adds two numbers.")]
        public long Add(long a, long b)
        {
            Interlocked.Increment(ref Calls);
            return a + b;
        }
    }

    private LlmEngine _engine = null!;

    public async Task InitializeAsync() =>
        _engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ChatClientTests.DefaultModel, MaxNumSeqs = 8, NumKvBlocks = 512 });

    public async Task DisposeAsync() => await _engine.DisposeAsync();

    [Fact]
    public async Task SemanticKernel_FunctionChoiceRequired_InvokesTheFunction()
    {
        var builder = Kernel.CreateBuilder();
        builder.AddPagedAttentionChatCompletion(_engine);
        var kernel = builder.Build();
        var plugin = new MathPlugin();
        kernel.Plugins.AddFromObject(plugin, "math");
        var settings = new PromptExecutionSettings
        {
            // Required on the first request only (SK's default), so the loop ends with a text answer.
            FunctionChoiceBehavior = FunctionChoiceBehavior.Required(),
            ExtensionData = new Dictionary<string, object> { ["temperature"] = 1, ["seed"] = 3, ["max_tokens"] = 400 },
        };
        var result = await kernel.InvokePromptAsync("What is 2 + 3?", new KernelArguments(settings));
        Assert.True(plugin.Calls >= 1, $"Required() should have invoked math.Add; got '{result}'");
    }

    [Fact]
    public async Task AgentFramework_RunAsyncOfT_ReturnsAValidT()
    {
        var agent = new ChatClientAgent(_engine.AsChatClient(), instructions: "You forecast the weather.", name: "forecaster");
        var options = new ChatClientAgentRunOptions(new ChatOptions { Temperature = 1, Seed = 11, MaxOutputTokens = 300, AdditionalProperties = new() { ["max_items"] = 4 } });
        var response = await agent.RunAsync<Forecast>("Forecast for tomorrow in Oslo.", options: options);
        var f = response.Result;
        Assert.NotNull(f);
        Assert.True(Enum.IsDefined(f.Mood));
        Assert.NotNull(f.NextDays);
        Assert.InRange(f.NextDays.Count, 0, 4);
    }
}
