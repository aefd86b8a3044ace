using Microsoft.Extensions.AI;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;

namespace PagedAttention.Tests.Chat;

/// <summary>The chat template is the chat client's: loaded when the client is made, its problems reported there.</summary>
public sealed class ChatModelAssetsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pa-chat-assets-" + Guid.NewGuid().ToString("N"));

    public ChatModelAssetsTests()
    {
        Directory.CreateDirectory(_dir);
        foreach (var f in Directory.GetFiles(ChatClientTests.DefaultModel))
            File.Copy(f, Path.Combine(_dir, Path.GetFileName(f)));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task BrokenTemplate_FailsTheClient_WithModelLoadException_NotTheEngine()
    {
        File.WriteAllText(Path.Combine(_dir, "chat_template.jinja"), "{% for m in messages %}{{ m.content }");
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = _dir, NumKvBlocks = 16 });
        var e = Assert.Throws<ModelLoadException>(() => engine.AsChatClient());
        Assert.Contains("chat_template.jinja", e.Message);
        // The engine itself serves token streams regardless.
        int[] ids = engine.Tokenizer!.Encode("The jury", addSpecialTokens: true);
        int n = 0;
        await foreach (var _ in engine.GenerateAsync(ids, new PagedAttention.AI.Sampling.SamplingParams { Temperature = 0, MaxTokens = 3 })) n++;
        Assert.Equal(3, n);
    }

    [Fact]
    public async Task ChatTemplateJinja_WinsOverTokenizerConfig()
    {
        File.WriteAllText(Path.Combine(_dir, "chat_template.jinja"), "{% for m in messages %}<<{{ m.content }}>>{% endfor %}");
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = _dir, NumKvBlocks = 16 });
        var client = engine.AsChatClient();
        var template = client.GetService<PagedAttention.Text.Templates.ChatTemplate>();
        Assert.NotNull(template);
        Assert.Equal("<<hi>>", template.Render(new System.Text.Json.Nodes.JsonObject
        {
            ["messages"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["role"] = "user", ["content"] = "hi" }),
        }));
    }
}
