using System.Text.Json;
using Microsoft.Extensions.AI;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;

namespace PagedAttention.Tests.Chat;

/// <summary>
/// The chat client's tool-call and reasoning paths end to end through the engine, with the model's text replaced by a
/// script (a detokenizer that ignores the token ids), so the assertions do not depend on what a tiny model says.
/// </summary>
public sealed class ChatClientScriptedTests
{
    private sealed class ScriptedDetokenizer(string[] chunks) : IStreamingDetokenizer
    {
        private int _next;
        public string Append(int tokenId) => _next < chunks.Length ? chunks[_next++] : "";
        public string Flush() => "";
    }

    private static async Task<(LlmEngine Engine, IChatClient Client)> Create(params string[] script)
    {
        var engine = await LlmEngine.LoadAsync(new EngineOptions
        {
            ModelPath = ChatClientTests.DefaultModel,
            NumKvBlocks = 64,
            DetokenizerFactory = () => new ScriptedDetokenizer(script),
        });
        return (engine, engine.AsChatClient());
    }

    private static ChatOptions Options(int tokens, params AITool[] tools) => new()
    {
        Temperature = 0, MaxOutputTokens = tokens, Tools = tools, AdditionalProperties = new() { ["ignore_eos"] = true },
    };

    [Fact]
    public async Task HermesToolCallBecomesFunctionCallContent()
    {
        var (engine, client) = await Create("I will check. ", "<tool", "_call>\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>");
        await using var _ = engine;
        var tool = AIFunctionFactory.Create((string city) => "sunny", "get_weather");
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync("Weather in Paris?", Options(4, tool))) updates.Add(u);
        Assert.Equal("I will check. ", string.Concat(updates.Select(u => u.Text)));
        var call = Assert.Single(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>());
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", ((JsonElement)call.Arguments!["city"]!).GetString());
        Assert.Equal(ChatFinishReason.ToolCalls, updates[^1].FinishReason);
        Assert.DoesNotContain(updates, u => u.Text.Contains("tool_call"));
    }

    [Fact]
    public async Task WithoutToolsTheSameTextIsPlainText()
    {
        var (engine, client) = await Create("<tool_call>{\"name\": \"x\", \"arguments\": {}}</tool_call>");
        await using var _ = engine;
        var response = await client.GetResponseAsync("hi", Options(2));
        Assert.Empty(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Contains("<tool_call>", response.Text);
        Assert.NotEqual(ChatFinishReason.ToolCalls, response.FinishReason);
    }

    [Fact]
    public async Task ThinkBlockBecomesReasoningContent()
    {
        var (engine, client) = await Create("<think>", "\nThe user wants", " a number.\n", "</think>\n\n", "Four.");
        await using var _ = engine;
        var response = await client.GetResponseAsync("2+2?", new ChatOptions { Temperature = 0, MaxOutputTokens = 5, AdditionalProperties = new() { ["ignore_eos"] = true } });
        var contents = response.Messages.SelectMany(m => m.Contents).ToList();
        Assert.Equal("\nThe user wants a number.\n", string.Concat(contents.OfType<TextReasoningContent>().Select(r => r.Text)));
        Assert.Equal("Four.", response.Text);

        var hidden = await client.GetResponseAsync("2+2?", new ChatOptions
        {
            Temperature = 0, MaxOutputTokens = 5, Reasoning = new ReasoningOptions { Output = ReasoningOutput.None }, AdditionalProperties = new() { ["ignore_eos"] = true },
        });
        Assert.Empty(hidden.Messages.SelectMany(m => m.Contents).OfType<TextReasoningContent>());
        Assert.Equal("Four.", hidden.Text);
    }
}
