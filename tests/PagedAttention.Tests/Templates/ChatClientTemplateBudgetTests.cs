using System.Diagnostics;
using Microsoft.Extensions.AI;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using PagedAttention.Tests.Chat;
using PagedAttention.Text.Templates;

namespace PagedAttention.Tests.Templates;

/// <summary>The chat client renders within the template budget and with the request's token: a hostile chat_template cannot hang a request.</summary>
public sealed class ChatClientTemplateBudgetTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pa-hostile-template-" + Guid.NewGuid().ToString("N"));

    public ChatClientTemplateBudgetTests()
    {
        Directory.CreateDirectory(_dir);
        foreach (var f in Directory.GetFiles(ChatClientTests.DefaultModel))
            File.Copy(f, Path.Combine(_dir, Path.GetFileName(f)));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task HostileTemplate_WithTokenCancelledAtTwoSeconds_ReturnsPromptly()
    {
        File.WriteAllText(Path.Combine(_dir, "chat_template.jinja"),
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}");
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = _dir, NumKvBlocks = 16 });
        IChatClient client = engine.AsChatClient();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAnyAsync<Exception>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], cancellationToken: cts.Token));
        sw.Stop();
        // 10^10 iterations: the budget's iteration limit ends it first (well before 2 s), else the token does.
        Assert.True(e is OperationCanceledException or TemplateException, e.ToString());
        if (e is TemplateException te) Assert.Contains("iteration limit", te.Message);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(4), sw.Elapsed.ToString());
    }

    [Fact]
    public async Task CancelledToken_StopsTheRender_WithOperationCanceledException()
    {
        File.WriteAllText(Path.Combine(_dir, "chat_template.jinja"), "{% for m in messages %}{{ m.content }}{% endfor %}");
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = _dir, NumKvBlocks = 16 });
        IChatClient client = engine.AsChatClient();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], cancellationToken: cts.Token));
    }
}
