using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;

namespace PagedAttention.Tests.Chat;

/// <summary>AddPagedAttention in a generic host: eager load at start, ValidateOnStart, the health check, the load logs.</summary>
public sealed class HostingTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("pa-hosting-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static IHost Build(Action<EngineOptions> configure, LogSink? logs = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        if (logs is not null) builder.Logging.AddProvider(logs).SetMinimumLevel(LogLevel.Information);
        builder.Services.AddPagedAttention(o => { o.NumKvBlocks = 32; configure(o); });
        return builder.Build();
    }

    private static Task<HealthReport> Health(IHost host) => host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task WrongModelPathFailsTheStartNamingThePath(bool loadOnStart)
    {
        string missing = Path.Combine(_root, "no-such-model");
        using var host = Build(o => { o.ModelPath = missing; o.LoadOnStart = loadOnStart; });
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(missing, e.Message);
        Assert.Contains("working directory", e.Message);
    }

    [Fact]
    public async Task InvalidOptionsFailTheStart()
    {
        using var host = Build(o => { o.ModelPath = ChatClientTests.DefaultModel; o.Device = "tpu"; });
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Device", e.Message);
    }

    [Fact]
    public async Task EngineLoadsAtStartAndReportsHealthy()
    {
        var logs = new LogSink();
        using var host = Build(o => o.ModelPath = ChatClientTests.DefaultModel, logs);
        var engineHost = host.Services.GetRequiredService<EngineHost>();
        Assert.Null(engineHost.Load);
        await host.StartAsync();
        Assert.True(engineHost.Load is { IsCompletedSuccessfully: true }, "loaded by the hosted service, before any request");

        var report = await Health(host);
        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Equal(32, report.Entries[PagedAttentionServiceCollectionExtensions.HealthCheckName].Data["kv_blocks_total"]);

        var chat = host.Services.GetRequiredService<IChatClient>();
        Assert.NotNull((await chat.GetResponseAsync("Hi", new ChatOptions { MaxOutputTokens = 2 })).Usage);

        // The load logs at Information: what is loaded, then the summary.
        Assert.Contains(logs.Lines, l => l.Level == LogLevel.Information && l.Text.Contains("loading model", StringComparison.Ordinal));
        var summary = Assert.Single(logs.Lines, l => l.Text.Contains("PagedAttention: loaded", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Information, summary.Level);
        foreach (string part in (string[])["LlamaForCausalLM", "bfloat16", "on cpu", "32 blocks x 16 tokens", " ms"])
            Assert.Contains(part, summary.Text);

        await host.StopAsync();
        // The engine is disposed with the container; the health check says so rather than Healthy.
        await host.Services.GetRequiredService<LlmEngine>().DisposeAsync();
        Assert.Equal(HealthStatus.Unhealthy, (await Health(host)).Status);
    }

    [Fact]
    public async Task LoadOnStartFalseLoadsOnFirstUse()
    {
        using var host = Build(o => { o.ModelPath = ChatClientTests.DefaultModel; o.LoadOnStart = false; });
        await host.StartAsync();
        var engineHost = host.Services.GetRequiredService<EngineHost>();
        Assert.Null(engineHost.Load);
        Assert.Equal(HealthStatus.Healthy, (await Health(host)).Status);
        host.Services.GetRequiredService<IChatClient>();
        Assert.True(engineHost.Load is { IsCompletedSuccessfully: true });
        await host.StopAsync();
    }

    [Fact]
    public async Task LoadFailureFailsTheStartAndIsNotRetried()
    {
        // Resolves (config.json exists) but does not load: the validator passes, the load fails.
        string dir = Directory.CreateDirectory(Path.Combine(_root, "broken")).FullName;
        File.WriteAllText(Path.Combine(dir, "config.json"), "{ not json");
        using (var host = Build(o => o.ModelPath = dir))
        {
            var e = await Assert.ThrowsAsync<ModelLoadException>(() => host.StartAsync());
            Assert.Contains(Path.Combine(dir, "config.json"), e.Message);
        }

        using (var host = Build(o => { o.ModelPath = dir; o.LoadOnStart = false; }))
        {
            await host.StartAsync();
            var first = Assert.Throws<ModelLoadException>(() => host.Services.GetRequiredService<LlmEngine>());
            var second = Assert.Throws<ModelLoadException>(() => host.Services.GetRequiredService<LlmEngine>());
            Assert.Same(first, second); // one load, its failure kept
            var report = await Health(host);
            Assert.Equal(HealthStatus.Unhealthy, report.Status);
            Assert.Contains("config.json", report.Entries[PagedAttentionServiceCollectionExtensions.HealthCheckName].Description);
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task KeyedEnginesEachGetAHealthCheck()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddKeyedPagedAttention("writer", o => { o.ModelPath = ChatClientTests.DefaultModel; o.NumKvBlocks = 8; });
        builder.Services.AddKeyedPagedAttention("editor", o => { o.ModelPath = ChatClientTests.DefaultModel; o.NumKvBlocks = 8; o.LoadOnStart = false; });
        using var host = builder.Build();
        await host.StartAsync();
        Assert.True(host.Services.GetRequiredKeyedService<EngineHost>("writer").Load is { IsCompletedSuccessfully: true });
        Assert.Null(host.Services.GetRequiredKeyedService<EngineHost>("editor").Load);
        var report = await Health(host);
        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Contains("pagedattention-writer", report.Entries.Keys);
        Assert.Contains("pagedattention-editor", report.Entries.Keys);
        await host.StopAsync();
    }

    internal sealed class LogSink : ILoggerProvider
    {
        public ConcurrentQueue<(LogLevel Level, string Text)> Lines { get; } = new();
        public ILogger CreateLogger(string categoryName) => new Logger(this);
        public void Dispose() { }

        private sealed class Logger(LogSink sink) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                sink.Lines.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}
