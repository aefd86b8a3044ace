#pragma warning disable OPENAI001 // ChatCompletionOptions.Seed is marked experimental in the SDK
using System.ClientModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using PagedAttention.AI.Engine;
using Xunit.Abstractions;
using MeaiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using MeaiChatRole = Microsoft.Extensions.AI.ChatRole;

namespace PagedAttention.Tests.Server;

/// <summary>
/// The server through real clients over loopback HTTP: the official OpenAI .NET SDK and Microsoft.Extensions.AI.OpenAI's
/// <c>AsIChatClient()</c> (with <c>UseFunctionInvocation()</c>), on the embedded default model.
/// </summary>
public sealed class OpenAIClientTests(ITestOutputHelper log) : IAsyncLifetime
{
    private ServerHost _server = null!;
    private ChatClient _chat = null!;

    public async Task InitializeAsync()
    {
        _server = await ServerHost.StartAsync();
        _chat = Client(_server, "default");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    internal static ChatClient Client(ServerHost server, string model, string key = "unused") =>
        new(model, new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(server.Address, "/v1"), NetworkTimeout = TimeSpan.FromSeconds(120) });

    private static ChatCompletionOptions Greedy(int max = 12) => new() { Temperature = 0, MaxOutputTokenCount = max };

    [Fact]
    public async Task Chat_ReturnsTextUsageAndFinishReason()
    {
        ChatCompletion c = await _chat.CompleteChatAsync([new SystemChatMessage("You write the news."), new UserChatMessage("Tell me about the city.")], Greedy());
        log.WriteLine(c.Content[0].Text);
        Assert.False(string.IsNullOrWhiteSpace(c.Content[0].Text));
        Assert.Equal("default", c.Model);
        Assert.Equal(12, c.Usage.OutputTokenCount);
        Assert.True(c.Usage.InputTokenCount > 5);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Length, c.FinishReason);
    }

    [Fact]
    public async Task Streaming_MatchesTheNonStreamedText_AndEndsWithUsage()
    {
        var messages = new List<OpenAI.Chat.ChatMessage> { new UserChatMessage("The jury said") };
        // 8 tokens: the default model's greedy answer to this prompt is longer, so both end by length.
        ChatCompletion whole = await _chat.CompleteChatAsync(messages, Greedy(8));
        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        OpenAI.Chat.ChatFinishReason? finish = null;
        int updates = 0;
        await foreach (var u in _chat.CompleteChatStreamingAsync(messages, Greedy(8)))
        {
            updates++;
            foreach (var part in u.ContentUpdate) text.Append(part.Text);
            usage ??= u.Usage;
            finish ??= u.FinishReason;
        }
        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.True(updates > 3, $"{updates} updates: the stream should arrive in pieces");
        Assert.NotNull(usage);
        Assert.Equal(8, usage!.OutputTokenCount);
        Assert.Equal(whole.Usage.OutputTokenCount, usage.OutputTokenCount);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Length, whole.FinishReason);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Length, finish);
    }

    [Fact]
    public async Task SecondRequestWithTheSamePreamble_ReportsCachedTokens()
    {
        string preamble = string.Join(" ", Enumerable.Repeat("The council met in the old hall to discuss the bridge and the river.", 8));
        ChatCompletion first = await _chat.CompleteChatAsync([new SystemChatMessage(preamble), new UserChatMessage("First question?")], Greedy(4));
        ChatCompletion second = await _chat.CompleteChatAsync([new SystemChatMessage(preamble), new UserChatMessage("Second question?")], Greedy(4));
        log.WriteLine($"prompt {second.Usage.InputTokenCount}, cached {second.Usage.InputTokenDetails?.CachedTokenCount}");
        Assert.Equal(0, first.Usage.InputTokenDetails?.CachedTokenCount ?? 0);
        Assert.True(second.Usage.InputTokenDetails!.CachedTokenCount >= 64, $"cached {second.Usage.InputTokenDetails.CachedTokenCount}");
        Assert.True(second.Usage.InputTokenDetails.CachedTokenCount < second.Usage.InputTokenCount);
    }

    [Fact]
    public async Task Logprobs_OnePerToken_WithTheTopAlternatives()
    {
        var options = Greedy(6);
        options.IncludeLogProbabilities = true;
        options.TopLogProbabilityCount = 3;
        ChatCompletion c = await _chat.CompleteChatAsync([new UserChatMessage("Once upon a time")], options);
        Assert.Equal(6, c.ContentTokenLogProbabilities.Count);
        Assert.Equal(c.Content[0].Text, string.Concat(c.ContentTokenLogProbabilities.Select(t => t.Token)));
        foreach (var t in c.ContentTokenLogProbabilities)
        {
            Assert.True(t.LogProbability <= 0);
            Assert.Equal(3, t.TopLogProbabilities.Count);
            // Greedy: the chosen token is the most likely one.
            Assert.Equal(t.Token, t.TopLogProbabilities[0].Token);
            Assert.Equal(t.LogProbability, t.TopLogProbabilities[0].LogProbability, 4);
            Assert.True(t.TopLogProbabilities[0].LogProbability >= t.TopLogProbabilities[1].LogProbability);
        }
    }

    [Fact]
    public async Task Stop_EndsBeforeTheStopString()
    {
        var messages = new List<OpenAI.Chat.ChatMessage> { new UserChatMessage("Tell me about the river.") };
        string full = (await _chat.CompleteChatAsync(messages, Greedy(24))).Value.Content[0].Text;
        var words = full.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(words.Length > 4, full);
        string stop = " " + words[3];
        int at = full.IndexOf(stop, StringComparison.Ordinal);
        var options = Greedy(24);
        options.StopSequences.Add(stop);
        ChatCompletion c = await _chat.CompleteChatAsync(messages, options);
        Assert.Equal(full[..at], c.Content[0].Text);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Stop, c.FinishReason);
    }

    [Fact]
    public async Task Seed_ReproducesASampledCompletion()
    {
        async Task<string> Sample(long seed)
        {
            var o = new ChatCompletionOptions { Temperature = 1, MaxOutputTokenCount = 16, Seed = seed };
            return (await _chat.CompleteChatAsync([new UserChatMessage("Write about the sea.")], o)).Value.Content[0].Text;
        }
        string a = await Sample(42), b = await Sample(42);
        Assert.Equal(a, b);
        var others = new[] { await Sample(43), await Sample(44), await Sample(45) };
        Assert.Contains(others, o => o != a);
    }

    [Fact]
    public async Task NGreaterThanOne_ReturnsNChoices_AndCountsTheirTokens()
    {
        var (status, body, _) = await _server.PostAsync("/v1/chat/completions", ServerHost.Chat("Write about the sea.", 10, "\"n\":3,\"seed\":5,\"temperature\":1,\"ignore_eos\":true"));
        Assert.Equal(200, status);
        var choices = body!.Value.GetProperty("choices").EnumerateArray().ToArray();
        Assert.Equal([0, 1, 2], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.All(choices, c => Assert.False(string.IsNullOrEmpty(c.GetProperty("message").GetProperty("content").GetString())));
        Assert.True(choices.Select(c => c.GetProperty("message").GetProperty("content").GetString()).Distinct().Count() > 1, "three samples at temperature 1 should not all agree");
        var usage = body.Value.GetProperty("usage");
        Assert.Equal(30, usage.GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task MeaiClient_StreamsAndReportsUsage()
    {
        IChatClient client = _chat.AsIChatClient();
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync("The jury said", new ChatOptions { Temperature = 0, MaxOutputTokens = 8 })) updates.Add(u);
        var response = updates.ToChatResponse();
        Assert.False(string.IsNullOrWhiteSpace(response.Text));
        Assert.Equal(8, response.Usage?.OutputTokenCount);
        Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.Length, response.FinishReason);
    }

    /// <summary>
    /// Tool calls round-trip through UseFunctionInvocation: the first request (tool_choice names the function) comes
    /// back as a tool call that the MEAI client invokes; the second sends the tool result back as a tool message, which
    /// the template renders. The model is the default model with Qwen2.5's chat template, which renders tools.
    /// </summary>
    [Fact]
    public async Task ToolCall_RoundTripsThroughUseFunctionInvocation()
    {
        string dir = ToolTemplateModel();
        try
        {
            await using var server = await ServerHost.StartAsync(ServerHost.DefaultEngine().WithModel(dir));
            int calls = 0;
            var tool = AIFunctionFactory.Create((long days) => { calls++; return $"sunny for {days} days"; }, "get_forecast", "Gets the forecast for a number of days.");
            IChatClient client = new ChatClientBuilder(Client(server, Path.GetFileName(dir)).AsIChatClient())
                .UseFunctionInvocation(configure: f => f.MaximumIterationsPerRequest = 2).Build();
            var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 200, Tools = [tool], ToolMode = ChatToolMode.RequireSpecific("get_forecast") };
            var r = await client.GetResponseAsync([new MeaiChatMessage(MeaiChatRole.User, "What is the forecast for three days?")], options);
            foreach (var m in r.Messages) log.WriteLine($"{m.Role}: {string.Join(" | ", m.Contents.Select(c => c is FunctionCallContent f ? $"call {f.Name}({JsonSerializer.Serialize(f.Arguments)})" : c is FunctionResultContent fr ? $"result {fr.Result}" : c.ToString()))}");
            Assert.True(calls >= 1, "the tool should have been invoked");
            var call = r.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().First();
            Assert.Equal("get_forecast", call.Name);
            Assert.Contains(r.Messages, m => m.Contents.OfType<FunctionResultContent>().Any(fr => fr.Result?.ToString()?.StartsWith("sunny for", StringComparison.Ordinal) == true));
            Assert.Equal(MeaiChatRole.Assistant, r.Messages[^1].Role);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>A copy of the default model whose tokenizer_config.json carries Qwen2.5's chat template (tools, tool messages).</summary>
    internal static string ToolTemplateModel()
    {
        string src = Chat.ChatClientTests.DefaultModel;
        string dir = Path.Combine(Path.GetTempPath(), "pa-tools-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(src))
        {
            string name = Path.GetFileName(f);
            if (name == "model.safetensors") File.CreateSymbolicLink(Path.Combine(dir, name), f);
            else if (name != "tokenizer_config.json") File.Copy(f, Path.Combine(dir, name));
        }
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(src, "tokenizer_config.json")))!.AsObject();
        config["chat_template"] = File.ReadAllText(Path.Combine(TestData.Root, "templates", "sources", "qwen2.5.jinja"));
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
        return dir;
    }
}

internal static class EngineOptionsTestExtensions
{
    public static EngineOptions WithModel(this EngineOptions o, string dir) => new() { ModelPath = dir, MaxNumSeqs = o.MaxNumSeqs, NumKvBlocks = o.NumKvBlocks };
}
