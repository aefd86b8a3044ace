using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PagedAttention.AI.Engine;

namespace PagedAttention.Tests.Chat;

public class DependencyInjectionTests
{
    [Fact]
    public async Task AddPagedAttentionRegistersEngineAndChatClient()
    {
        var services = new ServiceCollection();
        services.AddPagedAttention(o => { o.ModelPath = ChatClientTests.DefaultModel; o.NumKvBlocks = 64; });
        LlmEngine engine;
        await using (var sp = services.BuildServiceProvider())
        {
            var client = sp.GetRequiredService<IChatClient>();
            engine = sp.GetRequiredService<LlmEngine>();
            Assert.Same(engine, client.GetService<LlmEngine>());
            var response = await client.GetResponseAsync("Hello", new ChatOptions { Temperature = 0, MaxOutputTokens = 2 });
            Assert.NotNull(response.Usage);
        }
        // Disposed with the container.
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => { await foreach (var _ in engine.GenerateAsync([1, 2], new() { MaxTokens = 1 })) { } });
    }

    [Fact]
    public void SynchronousDisposeOfTheContainerWorks()
    {
        var services = new ServiceCollection();
        services.AddPagedAttention(o => { o.ModelPath = ChatClientTests.DefaultModel; o.NumKvBlocks = 16; });
        using (var sp = services.BuildServiceProvider()) Assert.NotNull(sp.GetRequiredService<IChatClient>());
    }

    [Fact]
    public void BindsEngineOptionsFromConfiguration()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["PagedAttention:ModelPath"] = ChatClientTests.DefaultModel,
            ["PagedAttention:BlockSize"] = "32",
            ["PagedAttention:NumKvBlocks"] = "8",
            ["PagedAttention:EnablePrefixCaching"] = "false",
        }).Build();
        var services = new ServiceCollection();
        services.AddPagedAttention(config.GetSection("PagedAttention"));
        using var sp = services.BuildServiceProvider();
        var options = sp.GetRequiredService<IOptions<EngineOptions>>().Value;
        Assert.Equal(32, options.BlockSize);
        Assert.False(options.EnablePrefixCaching);
        Assert.Equal(8, sp.GetRequiredService<LlmEngine>().NumKvBlocks);
    }

    [Fact]
    public void KeyedRegistrationsServeSeveralModels()
    {
        var services = new ServiceCollection();
        services.AddKeyedPagedAttention("writer", o => { o.ModelPath = ChatClientTests.DefaultModel; o.NumKvBlocks = 8; });
        services.AddKeyedPagedAttention("editor", o => { o.ModelPath = ChatClientTests.DefaultModel; o.NumKvBlocks = 16; });
        using var sp = services.BuildServiceProvider();
        var writer = sp.GetRequiredKeyedService<IChatClient>("writer");
        var editor = sp.GetRequiredKeyedService<IChatClient>("editor");
        Assert.Equal("writer", writer.GetService<ChatClientMetadata>()!.DefaultModelId);
        Assert.Equal("editor", editor.GetService<ChatClientMetadata>()!.DefaultModelId);
        Assert.Equal(8, sp.GetRequiredKeyedService<LlmEngine>("writer").NumKvBlocks);
        Assert.Equal(16, sp.GetRequiredKeyedService<LlmEngine>("editor").NumKvBlocks);
        Assert.Null(sp.GetService<IChatClient>());
    }

    [Fact]
    public void ArgumentChecks()
    {
        var services = new ServiceCollection();
        Assert.Throws<ArgumentNullException>(() => services.AddPagedAttention((Action<EngineOptions>)null!));
        Assert.Throws<ArgumentNullException>(() => services.AddPagedAttention((IConfiguration)null!));
        Assert.Throws<ArgumentException>(() => services.AddKeyedPagedAttention("", _ => { }));
    }
}
