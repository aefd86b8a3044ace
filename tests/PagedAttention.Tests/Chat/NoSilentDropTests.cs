using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using PagedAttention.AI;
using PagedAttention.AI.Engine;

namespace PagedAttention.Tests.Chat;

/// <summary>
/// Nothing the caller sent is dropped without a word: tools the template does not render (here the default model with
/// a chat_template.jinja that ignores them) give a warning once per client and a response note, or an exception when ToolMode requires a call;
/// images, audio and files are a NotSupportedException naming them, or with the documented key a note and a warning.
/// </summary>
public sealed class NoSilentDropTests : IAsyncLifetime, IDisposable
{
    private readonly HostingTests.LogSink _logs = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("pa-drops-").FullName;
    private readonly string _ignoring = Directory.CreateTempSubdirectory("pa-drops-notools-").FullName;

    /// <summary>A chat template that ignores <c>tools</c> (the embedded model's before it learnt tool calling).</summary>
    private const string ToolIgnoringTemplate =
        "{{ bos_token }}{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}";
    private LlmEngine _engine = null!;
    private PagedAttentionChatClient _client = null!;

    private static readonly AIFunction Weather = AIFunctionFactory.Create((string city) => $"Sunny in {city}", "get_weather", "Gets the weather.");

    public async Task InitializeAsync()
    {
        foreach (var f in Directory.GetFiles(ChatClientTests.DefaultModel)) File.Copy(f, Path.Combine(_ignoring, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(_ignoring, "chat_template.jinja"), ToolIgnoringTemplate);
        _engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = _ignoring, NumKvBlocks = 64, Logger = _logs.CreateLogger("test") });
        _client = new PagedAttentionChatClient(_engine);
    }

    public async Task DisposeAsync() => await _engine.DisposeAsync();

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        Directory.Delete(_ignoring, recursive: true);
    }

    private static ChatOptions Options(Action<ChatOptions>? more = null)
    {
        var o = new ChatOptions { Temperature = 0, MaxOutputTokens = 2 };
        more?.Invoke(o);
        return o;
    }

    private int Warnings(string text) => _logs.Lines.Count(l => l.Level == LogLevel.Warning && l.Text.Contains(text, StringComparison.Ordinal));

    [Fact]
    public async Task ToolsTheTemplateIgnoresAreNotedAndWarnedOncePerClient()
    {
        for (int i = 0; i < 3; i++)
        {
            var response = await _client.GetResponseAsync("What is the weather in Paris?", Options(o => o.Tools = [Weather]));
            Assert.NotNull(response.AdditionalProperties);
            Assert.Contains("does not render tools", (string)response.AdditionalProperties[PagedAttentionChatClient.ToolsNotRenderedKey]!);
        }
        Assert.Equal(1, Warnings("does not render tools"));

        // Without tools, no note.
        var plain = await _client.GetResponseAsync("What is the weather in Paris?", Options());
        Assert.False(plain.AdditionalProperties?.ContainsKey(PagedAttentionChatClient.ToolsNotRenderedKey) ?? false);
    }

    [Fact]
    public async Task RequiredToolModeWithATemplateThatIgnoresTools_StillCalls_ListsTheToolsInTheSystemPrompt_AndSaysSo()
    {
        // The constraint forces the call; the tools the template cannot show go into the system prompt instead.
        var options = Options(o => { o.Tools = [Weather]; o.ToolMode = ChatToolMode.RequireAny; o.MaxOutputTokens = 200; o.AdditionalProperties = new() { ["max_string_length"] = 12 }; });
        var r = await _client.GetResponseAsync("Weather?", options);
        Assert.Single(r.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Contains("does not render tools", (string)r.AdditionalProperties![PagedAttentionChatClient.ToolsNotRenderedKey]!);
        var plain = await _client.GetResponseAsync("Weather?", Options(o => o.MaxOutputTokens = 1));
        Assert.True(r.Usage!.InputTokenCount > plain.Usage!.InputTokenCount + 10, "the tools should be in the prompt"); // listed in the system prompt
    }

    [Fact]
    public async Task ATemplateThatRendersToolsGetsNoNote()
    {
        foreach (var f in Directory.GetFiles(ChatClientTests.DefaultModel)) File.Copy(f, Path.Combine(_dir, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(_dir, "chat_template.jinja"),
            "{% if tools %}Tools: {% for t in tools %}{{ t.function.name }} {% endfor %}\n{% endif %}{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}assistant:");
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = _dir, NumKvBlocks = 32, Logger = _logs.CreateLogger("test") });
        var client = engine.AsChatClient();
        var response = await client.GetResponseAsync("Weather?", Options(o => o.Tools = [Weather]));
        Assert.False(response.AdditionalProperties?.ContainsKey(PagedAttentionChatClient.ToolsNotRenderedKey) ?? false);
        Assert.Equal(0, Warnings("does not render tools"));
    }

    public static TheoryData<AIContent, string> MediaContents() => new()
    {
        { new DataContent(new byte[] { 0x89, 0x50, 0x4e, 0x47 }, "image/png"), "DataContent (image/png)" },
        { new DataContent(new byte[] { 1, 2, 3 }, "audio/wav"), "DataContent (audio/wav)" },
        { new UriContent(new Uri("https://example.com/cat.jpg"), "image/jpeg"), "UriContent (image/jpeg, https://example.com/cat.jpg)" },
        { new HostedFileContent("file-123"), "HostedFileContent (file file-123)" },
    };

    [Theory]
    [MemberData(nameof(MediaContents))]
    public async Task NonTextContentIsNotSupportedNamingTheType(AIContent content, string expected)
    {
        var message = new ChatMessage(ChatRole.User, [new TextContent("What is in this?"), content]);
        var e = await Assert.ThrowsAsync<NotSupportedException>(() => _client.GetResponseAsync([message], Options()));
        Assert.Contains(expected, e.Message);
        Assert.Contains("message 0 (user)", e.Message);
        Assert.Contains(PagedAttentionChatClient.IgnoreUnsupportedContentKey, e.Message);
    }

    [Fact]
    public async Task TheDocumentedKeyDowngradesNonTextContentToANoteAndOneWarning()
    {
        var message = new ChatMessage(ChatRole.User, [new TextContent("What is in this?"), new DataContent(new byte[] { 1 }, "image/png")]);
        var options = Options(o => o.AdditionalProperties = new() { [PagedAttentionChatClient.IgnoreUnsupportedContentKey] = true });
        for (int i = 0; i < 2; i++)
        {
            var response = await _client.GetResponseAsync([message], options);
            Assert.Contains("DataContent (image/png)", (string)response.AdditionalProperties![PagedAttentionChatClient.ContentIgnoredKey]!);
        }
        Assert.Equal(1, Warnings("reads text only"));
        // The prompt is the text alone.
        Assert.Equal(_client.BuildPrompt([new ChatMessage(ChatRole.User, "What is in this?")], null).Prompt, _client.BuildPrompt([message], null).Prompt);
    }
}
