using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using PagedAttention.AI.Chat;
using PagedAttention.AI.Sampling;

namespace PagedAttention.Tests.Chat;

public class ChatMappingTests
{
    private sealed class NullClient : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> m, ChatOptions? o = null, CancellationToken c = default) => throw new NotSupportedException();
        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> m, ChatOptions? o = null, CancellationToken c = default) => throw new NotSupportedException();
        public object? GetService(Type t, object? k = null) => null;
        public void Dispose() { }
    }

    private static readonly IChatClient Client = new NullClient();

    [Fact]
    public void TypedOptionsMap()
    {
        var o = new ChatOptions { Temperature = 0.3f, TopP = 0.9f, TopK = 40, MaxOutputTokens = 17, Seed = 5, FrequencyPenalty = 0.5f, PresencePenalty = 0.25f, StopSequences = ["END", "\n\n"] };
        var p = ChatOptionsMapper.Map(o, Client, 100);
        Assert.Equal(0.3f, p.Temperature);
        Assert.Equal(0.9f, p.TopP);
        Assert.Equal(40, p.TopK);
        Assert.Equal(17, p.MaxTokens);
        Assert.Equal(5, p.Seed);
        Assert.Equal(0.5f, p.FrequencyPenalty);
        Assert.Equal(0.25f, p.PresencePenalty);
        Assert.Equal(["END", "\n\n"], p.StopStrings);
    }

    [Fact]
    public void DefaultsAreNotGreedyAndUnseeded()
    {
        var p = ChatOptionsMapper.Map(null, Client, 123);
        Assert.True(p.Temperature > 0);
        Assert.Null(p.Seed);
        Assert.Equal(123, p.MaxTokens);
    }

    [Fact]
    public void AdditionalPropertiesKnobs()
    {
        var o = new ChatOptions
        {
            AdditionalProperties = new()
            {
                ["min_p"] = 0.05, ["repetition_penalty"] = JsonSerializer.SerializeToElement(1.1), ["ignore_eos"] = true,
                ["cache_salt"] = "tenant-a", ["min_tokens"] = 3, ["stop_token_ids"] = new[] { 7, 9 },
            },
        };
        var p = ChatOptionsMapper.Map(o, Client, 50);
        Assert.Equal(0.05f, p.MinP);
        Assert.Equal(1.1f, p.RepetitionPenalty, 5);
        Assert.True(p.IgnoreEos);
        Assert.Equal("tenant-a", p.CacheSalt);
        Assert.Equal(3, p.MinTokens);
        Assert.Equal([7, 9], p.StopTokenIds);
    }

    [Fact]
    public void BadKnobNamesTheKey()
    {
        var o = new ChatOptions { AdditionalProperties = new() { ["min_p"] = "lots" } };
        Assert.Contains("min_p", Assert.Throws<InvalidOperationException>(() => ChatOptionsMapper.Map(o, Client, 10)).Message);
    }

    [Fact]
    public void RawRepresentationWinsOverTypedOptions()
    {
        var o = new ChatOptions { Temperature = 0.9f, TopK = 5, RawRepresentationFactory = _ => new SamplingParams { Temperature = 0, MinP = 0.2f } };
        var p = ChatOptionsMapper.Map(o, Client, 10);
        Assert.Equal(0f, p.Temperature);
        Assert.Equal(0.2f, p.MinP);
        Assert.Equal(5, p.TopK);
    }

    [Fact]
    public void MappingDoesNotMutateOptions()
    {
        var o = new ChatOptions { Temperature = 0.5f, StopSequences = ["x"], AdditionalProperties = new() { ["min_p"] = 0.1 } };
        string before = JsonSerializer.Serialize(o);
        ChatOptionsMapper.Map(o, Client, 10);
        ChatContextBuilder.Build([new ChatMessage(ChatRole.User, "hi")], o, "<s>", "</s>");
        Assert.Equal(before, JsonSerializer.Serialize(o));
    }

    [Fact]
    public void ContextHasInstructionsToolsCallsAndResults()
    {
        var tool = AIFunctionFactory.Create((string city) => "sunny", "get_weather", "Gets the weather");
        var messages = new List<ChatMessage>
        {
            new(ChatRole.User, "Weather in Paris?"),
            new(ChatRole.Assistant, [new FunctionCallContent("call12345", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call12345", "sunny")]),
        };
        var ctx = ChatContextBuilder.Build(messages, new ChatOptions { Instructions = "Be brief.", Tools = [tool], Reasoning = new ReasoningOptions { Effort = ReasoningEffort.None } }, "<s>", "</s>");
        var msgs = ctx["messages"]!.AsArray();
        Assert.Equal("system", (string?)msgs[0]!["role"]);
        Assert.Equal("Be brief.", (string?)msgs[0]!["content"]);
        Assert.Equal("Paris", (string?)msgs[2]!["tool_calls"]![0]!["function"]!["arguments"]!["city"]);
        Assert.Equal("tool", (string?)msgs[3]!["role"]);
        Assert.Equal("call12345", (string?)msgs[3]!["tool_call_id"]);
        Assert.Equal("get_weather", (string?)msgs[3]!["name"]);
        Assert.Equal("sunny", (string?)msgs[3]!["content"]);
        Assert.Equal("get_weather", (string?)ctx["tools"]![0]!["function"]!["name"]);
        Assert.Equal("string", (string?)ctx["tools"]![0]!["function"]!["parameters"]!["properties"]!["city"]!["type"]);
        Assert.False((bool)ctx["enable_thinking"]!);
        Assert.True((bool)ctx["add_generation_prompt"]!);
    }

    [Fact]
    public void ToolModeNoneHidesTools()
    {
        var tool = AIFunctionFactory.Create(() => 1, "f");
        var ctx = ChatContextBuilder.Build([new ChatMessage(ChatRole.User, "x")], new ChatOptions { Tools = [tool], ToolMode = ChatToolMode.None }, null, null);
        Assert.False(ctx.ContainsKey("tools"));
        Assert.False(ctx.ContainsKey("enable_thinking"));
    }
}
