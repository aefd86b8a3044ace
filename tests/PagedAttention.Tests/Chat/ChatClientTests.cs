using Microsoft.Extensions.AI;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.Tests.Chat;

/// <summary>
/// The IChatClient contract on the embedded default model, shaped after dotnet/extensions' ChatClientIntegrationTests
/// (the cases that apply to a local model), plus the engine-specific ones: shared prefixes, cancellation, shared options.
/// </summary>
public sealed class ChatClientTests : IAsyncLifetime
{
    private LlmEngine _engine = null!;
    private IChatClient _client = null!;

    public static string DefaultModel => Path.Combine(TestData.RepoRoot, "models", "default");

    public async Task InitializeAsync()
    {
        _engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = DefaultModel, MaxNumSeqs = 64, NumKvBlocks = 1024 });
        _client = _engine.AsChatClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _engine.DisposeAsync();
    }

    private static ChatOptions Greedy(int maxTokens = 8) => new() { Temperature = 0, MaxOutputTokens = maxTokens };

    [Fact]
    public async Task GetResponseAsync_SingleRequestMessage()
    {
        var response = await _client.GetResponseAsync("The jury said", Greedy());
        var message = Assert.Single(response.Messages);
        Assert.Equal(ChatRole.Assistant, message.Role);
        Assert.False(string.IsNullOrWhiteSpace(response.Text));
        Assert.Equal("default", response.ModelId);
        Assert.NotNull(response.ResponseId);
    }

    [Fact]
    public async Task GetResponseAsync_MultipleRequestMessages()
    {
        var response = await _client.GetResponseAsync(
            [new(ChatRole.System, "You write the news."), new(ChatRole.User, "Tell me about the city."), new(ChatRole.Assistant, "The city is large."), new(ChatRole.User, "And the river?")],
            Greedy());
        Assert.False(string.IsNullOrWhiteSpace(response.Text));
    }

    [Fact]
    public async Task GetResponseAsync_WithEmptyMessage()
    {
        var response = await _client.GetResponseAsync(
            [new(ChatRole.System, []), new(ChatRole.User, []), new(ChatRole.Assistant, []), new(ChatRole.User, "Hello")], Greedy());
        Assert.NotNull(response.Usage);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_AppendToHistory()
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in _client.GetStreamingResponseAsync("The county board met", Greedy(12))) updates.Add(u);
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
        Assert.Single(updates.Select(u => u.MessageId).Distinct());
        Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>());
        Assert.IsType<UsageContent>(Assert.Single(updates[^1].Contents.OfType<UsageContent>()));
        var history = new List<ChatMessage>();
        history.AddMessages(updates);
        var message = Assert.Single(history);
        Assert.Single(message.Contents.OfType<TextContent>());
        Assert.Equal(string.Concat(updates.Select(u => u.Text)), message.Text);
    }

    [Fact]
    public async Task GetResponseAsync_UsageDataAvailable()
    {
        var response = await _client.GetResponseAsync("The weather", Greedy(5));
        var usage = response.Usage!;
        Assert.True(usage.InputTokenCount > 0);
        Assert.True(usage.OutputTokenCount is > 0 and <= 5);
        Assert.Equal(usage.InputTokenCount + usage.OutputTokenCount, usage.TotalTokenCount);
        Assert.NotNull(usage.CachedInputTokenCount);
    }

    [Fact]
    public async Task MaxOutputTokensGivesLengthFinish()
    {
        var response = await _client.GetResponseAsync("Tell a long story", new ChatOptions { Temperature = 0, MaxOutputTokens = 3, AdditionalProperties = new() { ["ignore_eos"] = true } });
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(3, response.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task Caching_OutputVariesWithoutCaching()
    {
        // Default sampling is not greedy and the seed is random.
        var options = new ChatOptions { MaxOutputTokens = 16 };
        var a = await _client.GetResponseAsync("Write about the farm", options);
        var b = await _client.GetResponseAsync("Write about the farm", options);
        var c = await _client.GetResponseAsync("Write about the farm", options);
        Assert.False(a.Text == b.Text && b.Text == c.Text, "three unseeded samples were identical");
    }

    [Fact]
    public async Task SameSeedSameOutput()
    {
        var options = new ChatOptions { Temperature = 0.9f, Seed = 42, MaxOutputTokens = 12 };
        var a = await _client.GetResponseAsync("Write about the farm", options);
        var b = await _client.GetResponseAsync("Write about the farm", options);
        Assert.Equal(a.Text, b.Text);
    }

    [Fact]
    public async Task InvalidModelParameter_ThrowsInvalidOperationException()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => _client.GetResponseAsync("hi", new ChatOptions { ModelId = "no-such-model" }));
        var ok = await _client.GetResponseAsync("hi", new ChatOptions { ModelId = "default", MaxOutputTokens = 2 });
        Assert.NotNull(ok);
    }

    [Fact]
    public async Task StopSequenceAcrossTokensIsCut()
    {
        var full = await _client.GetResponseAsync("The jury said", Greedy(24));
        string text = full.Text;
        Assert.True(text.Length > 10, text);
        // A stop string that starts mid-token and spans tokens: everything from it on must disappear.
        string stop = text.Substring(text.Length / 2 - 1, 4);
        var cut = await _client.GetResponseAsync("The jury said", new ChatOptions { Temperature = 0, MaxOutputTokens = 24, StopSequences = [stop] });
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], cut.Text);
        Assert.Equal(ChatFinishReason.Stop, cut.FinishReason);
    }

    [Fact]
    public async Task SharedSystemPromptIsServedFromThePrefixCache()
    {
        string system = string.Join(" ", Enumerable.Range(0, 120).Select(i => $"Rule {i}: the writer tells the truth and names the source."));
        var tokenizer = (Tokenizer)_client.GetService(typeof(Tokenizer))!;
        Assert.True(tokenizer.Encode(system, false).Length >= 1000);
        List<ChatMessage> Messages(int i) => [new(ChatRole.System, system), new(ChatRole.User, $"Agent {i}: describe town number {i}.")];

        var serial = new string[64];
        var options = Greedy(4);
        for (int i = 0; i < 64; i += 9) serial[i] = (await _client.GetResponseAsync(Messages(i), options)).Text;

        var responses = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => _client.GetResponseAsync(Messages(i), options)));
        // The prefix was cached by the serial calls, so every concurrent call hits it; outputs equal the serial ones.
        Assert.All(responses, r => Assert.True(r.Usage!.CachedInputTokenCount >= 960, $"cached {r.Usage!.CachedInputTokenCount}"));
        for (int i = 0; i < 64; i += 9) Assert.Equal(serial[i], responses[i].Text);
        Assert.Equal(0, _engine.GetMetrics().KvBlocksUsed);
    }

    [Fact]
    public async Task ConcurrentColdStartComputesTheSharedPrefixOnce()
    {
        string system = string.Join(" ", Enumerable.Range(0, 120).Select(i => $"Policy {i}: every report starts with the most important fact."));
        var responses = await Task.WhenAll(Enumerable.Range(0, 64).Select(i =>
            _client.GetResponseAsync([new(ChatRole.System, system), new(ChatRole.User, $"Task {i}")], Greedy(2))));
        int cold = responses.Count(r => r.Usage!.CachedInputTokenCount < 900);
        Assert.True(cold <= 1, $"{cold} of 64 requests recomputed the shared prefix");
    }

    [Fact]
    public async Task CancellationMidStreamFreesBlocks()
    {
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var u in _client.GetStreamingResponseAsync("Tell a long story about the river", new ChatOptions { MaxOutputTokens = 200, AdditionalProperties = new() { ["ignore_eos"] = true } }, cts.Token))
                if (++seen == 3) cts.Cancel();
        });
        // Blocks are freed at the engine's next step.
        for (int i = 0; i < 100 && _engine.GetMetrics().KvBlocksUsed != 0; i++) await Task.Delay(20);
        Assert.Equal(0, _engine.GetMetrics().KvBlocksUsed);
        var after = await _client.GetResponseAsync("Still working?", Greedy(2));
        Assert.NotNull(after.Usage);
    }

    [Fact]
    public async Task SharedOptionsInstanceIsNotMutated()
    {
        var options = new ChatOptions { Temperature = 0.5f, MaxOutputTokens = 3, StopSequences = ["zzz"], Instructions = "Be brief.", AdditionalProperties = new() { ["min_p"] = 0.05 } };
        string before = System.Text.Json.JsonSerializer.Serialize(options);
        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => _client.GetResponseAsync($"Question {i}", options)));
        Assert.Equal(before, System.Text.Json.JsonSerializer.Serialize(options));
        Assert.Equal(["zzz"], options.StopSequences);
    }

    [Fact]
    public void GetServiceReturnsMetadataEngineAndTokenizer()
    {
        var meta = _client.GetService<ChatClientMetadata>()!;
        Assert.Equal(PagedAttentionChatClient.ProviderName, meta.ProviderName);
        Assert.Equal("default", meta.DefaultModelId);
        Assert.Same(_engine, _client.GetService<LlmEngine>());
        Assert.NotNull(_client.GetService<Tokenizer>());
        Assert.Same(_client, _client.GetService<IChatClient>());
        Assert.Null(_client.GetService<ChatClientMetadata>("some-key"));
        Assert.Null(_client.GetService<string>());
        Assert.Throws<ArgumentNullException>(() => _client.GetService(null!));
    }

    [Fact]
    public async Task ArgumentChecksAndBadOptions()
    {
        await Assert.ThrowsAsync<ArgumentNullException>(() => _client.GetResponseAsync((IEnumerable<ChatMessage>)null!));
        await Assert.ThrowsAsync<ArgumentException>(() => _client.GetResponseAsync("x", new ChatOptions { Temperature = -1 }));
        await Assert.ThrowsAsync<InvalidOperationException>(() => _client.GetResponseAsync("x", new ChatOptions { AdditionalProperties = new() { ["min_p"] = "high" } }));
    }

    [Fact]
    public async Task PromptTooLongFailsAloneWithAClearMessage()
    {
        string huge = string.Join(" ", Enumerable.Repeat("the county board met on monday night", 400));
        var ok = _client.GetResponseAsync("Short prompt", Greedy(4));
        var e = await Assert.ThrowsAnyAsync<ArgumentException>(() => _client.GetResponseAsync(huge, Greedy(4)));
        Assert.Contains("prompt", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull((await ok).Usage);
    }

    [Fact]
    public async Task RawRepresentationFactorySamplingParamsAreUsed()
    {
        var greedy = await _client.GetResponseAsync("The jury said", Greedy(6));
        var viaRaw = await _client.GetResponseAsync("The jury said", new ChatOptions { Temperature = 1.5f, RawRepresentationFactory = _ => new SamplingParams { Temperature = 0, MaxTokens = 6 } });
        Assert.Equal(greedy.Text, viaRaw.Text);
    }
}
