using System.Text.Json;
using Microsoft.Extensions.AI;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using Xunit.Abstractions;

namespace PagedAttention.Tests.Chat;

/// <summary>
/// Structured output end to end on the embedded default model, a 19.9M-parameter model trained on a few task shapes: constrained, it must still produce output that parses and fits the type or the tool's schema.
/// </summary>
public sealed class StructuredOutputTests(ITestOutputHelper log) : IAsyncLifetime
{
    public enum Priority { Low, Medium, High }

    public sealed record Address(string Street, string City);

    public sealed record Ticket(string Title, Priority Priority, Address Address, List<string> Tags, string? Assignee, Address? Backup);

    private LlmEngine _engine = null!;
    private IChatClient _client = null!;

    public async Task InitializeAsync()
    {
        _engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ChatClientTests.DefaultModel, MaxNumSeqs = 64, NumKvBlocks = 2048 });
        _client = _engine.AsChatClient();
    }

    public async Task DisposeAsync() => await _engine.DisposeAsync();

    // Sampled, not greedy: greedy decoding of this small model repeats a phrase inside a JSON string until max_tokens;
    // sampling ends strings (the closing quote is always allowed) at a realistic length.
    private static ChatOptions Sampled(int max = 1500) => new() { Temperature = 1, Seed = 7, MaxOutputTokens = max };

    [Theory]
    [InlineData(0f)]
    [InlineData(1f)]
    public async Task GetResponseAsyncOfT_WithTheSchema_ReturnsATicket(float temperature)
    {
        // The schema's strings and arrays are bounded (max_string_length, max_items): unbounded, this model writes one
        // string or one list until max_tokens.
        var options = new ChatOptions { Temperature = temperature, Seed = 7, MaxOutputTokens = 400, AdditionalProperties = new() { ["max_string_length"] = 24, ["max_items"] = 3 } };
        var r = await _client.GetResponseAsync<Ticket>("File a ticket about the broken printer on the second floor.", options, useJsonSchemaResponseFormat: true);
        log.WriteLine(r.Text);
        Assert.True(r.TryGetResult(out var ticket), $"not a Ticket: {r.Text}");
        Assert.NotNull(ticket!.Title);
        Assert.NotNull(ticket.Address);
        Assert.NotNull(ticket.Tags);
        Assert.True(Enum.IsDefined(ticket.Priority));
        Assert.Equal(ChatFinishReason.Stop, r.FinishReason);
    }

    [Fact]
    public async Task JsonMode_IsConstrainedToAnObject()
    {
        // Schema-less JSON mode: this model rambles inside its first string, so only the start is checked here.
        var r = await _client.GetResponseAsync("Describe a cat.", new ChatOptions { Temperature = 0, MaxOutputTokens = 30, ResponseFormat = ChatResponseFormat.Json });
        log.WriteLine(r.Text);
        Assert.StartsWith("{", r.Text.TrimStart());
        Assert.Equal(ChatFinishReason.Length, r.FinishReason);
    }

    private static readonly AIFunction Weather = AIFunctionFactory.Create(
        (string city, long days) => $"sunny in {city} for {days} days", "get_weather", "Gets the weather forecast for a city.");

    private static readonly AIFunction Time = AIFunctionFactory.Create((string zone) => $"noon in {zone}", "get_time", "Gets the time in a time zone.");

    [Theory]
    [InlineData("get_weather")]
    [InlineData("get_time")]
    [InlineData(null)]
    public async Task RequiredToolCall_IsAValidCallOfTheTool(string? name)
    {
        var options = new ChatOptions
        {
            Temperature = 1, Seed = 3, MaxOutputTokens = 200, Tools = [Weather, Time],
            ToolMode = name is null ? ChatToolMode.RequireAny : ChatToolMode.RequireSpecific(name),
            AdditionalProperties = new() { ["max_string_length"] = 20 },
        };
        var r = await _client.GetResponseAsync("What is the weather in Paris for the next three days?", options);
        var call = Assert.Single(r.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        log.WriteLine($"{call.Name}({JsonSerializer.Serialize(call.Arguments)})");
        if (name is not null) Assert.Equal(name, call.Name);
        var f = call.Name == "get_weather" ? Weather : Time;
        var args = JsonSerializer.SerializeToNode(call.Arguments)!.AsObject();
        var expected = JsonDocument.Parse(f.JsonSchema.GetRawText()).RootElement.GetProperty("properties").EnumerateObject().Select(p => p.Name).Order();
        Assert.Equal(expected, args.Select(kv => kv.Key).Order()); // every parameter, nothing else
        if (call.Name == "get_weather") Assert.Equal(System.Text.Json.JsonValueKind.Number, args["days"]!.GetValueKind());
        Assert.Equal(ChatFinishReason.ToolCalls, r.FinishReason);
    }

    [Fact]
    public async Task RequiredToolCall_UnderUseFunctionInvocation_InvokesTheTool()
    {
        int calls = 0;
        var counted = AIFunctionFactory.Create((string city) => { calls++; return $"rain in {city}"; }, "get_weather", "Gets the weather.");
        var client = new ChatClientBuilder(_client).UseFunctionInvocation(configure: c => c.MaximumIterationsPerRequest = 1).Build();
        var options = new ChatOptions { Temperature = 1, Seed = 5, MaxOutputTokens = 200, Tools = [counted], ToolMode = ChatToolMode.RequireSpecific("get_weather"), AdditionalProperties = new() { ["max_string_length"] = 16 } };
        var r = await client.GetResponseAsync("Weather in Oslo?", options);
        foreach (var m in r.Messages) log.WriteLine($"{m.Role}: {string.Join(" | ", m.Contents.Select(c => c is FunctionCallContent f ? $"call {f.Name}" : c is FunctionResultContent fr ? $"result {fr.Result}" : c.ToString()))}");
        Assert.True(calls >= 1, "the required call should have been invoked");
        Assert.Contains(r.Messages, m => m.Contents.OfType<FunctionResultContent>().Any());
    }

    [Fact]
    public async Task SixtyFourConstrainedRequests_MixedWithUnconstrained_AllValid_NeighboursUnchanged()
    {
        string[] prompts = [.. Enumerable.Range(0, 16).Select(i => $"The jury said number {i}")];
        var alone = new List<string>();
        foreach (var p in prompts) alone.Add((await _client.GetResponseAsync(p, new ChatOptions { Temperature = 0, MaxOutputTokens = 12 })).Text);
        var constrained = Enumerable.Range(0, 64).Select(i => _client.GetResponseAsync<Ticket>($"Ticket {i}",
            new ChatOptions { Temperature = 1, Seed = i, MaxOutputTokens = 400, AdditionalProperties = new() { ["max_string_length"] = 12, ["max_items"] = 2 } }, useJsonSchemaResponseFormat: true)).ToArray();
        var plain = prompts.Select(p => _client.GetResponseAsync(p, new ChatOptions { Temperature = 0, MaxOutputTokens = 12 })).ToArray();
        var tickets = await Task.WhenAll(constrained);
        var texts = await Task.WhenAll(plain);
        Assert.All(tickets, t => Assert.True(t.TryGetResult(out _), t.Text));
        Assert.Equal(alone, texts.Select(t => t.Text));
    }

    [Fact]
    public async Task GuidedChoiceAndRegex()
    {
        var choice = await _client.GetResponseAsync("Is the sky blue?", new ChatOptions { Temperature = 0, MaxOutputTokens = 20, AdditionalProperties = new() { ["guided_choice"] = new[] { "yes", "no", "maybe" } } });
        Assert.Contains(choice.Text, new[] { "yes", "no", "maybe" });
        var regex = await _client.GetResponseAsync("Give a date.", new ChatOptions { Temperature = 0.8f, Seed = 3, MaxOutputTokens = 30, AdditionalProperties = new() { ["guided_regex"] = "[0-9]{4}-[0-9]{2}-[0-9]{2}" } });
        Assert.Matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", regex.Text);
    }

    [Fact]
    public async Task UnsupportedSchemaKeyword_IsAnArgumentExceptionNamingIt()
    {
        var schema = JsonDocument.Parse("""{"type":"object","patternProperties":{"^a":{"type":"string"}}}""").RootElement;
        var e = await Assert.ThrowsAnyAsync<ArgumentException>(() => _client.GetResponseAsync("x", new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema) }));
        Assert.Contains("patternProperties", e.Message);
    }
}
