using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace PagedAttention.Router.Tests;

/// <summary>
/// A minimal OpenAI-shaped upstream on 127.0.0.1 (real Kestrel): /health, /v1/chat/completions (JSON or SSE),
/// /v1/completions. It records every request body it got, can hold requests at a gate, and can be killed.
/// </summary>
internal sealed class FakeReplica : IAsyncDisposable
{
    private readonly WebApplication _app;
    private volatile TaskCompletionSource? _gate;

    private FakeReplica(WebApplication app, string name)
    {
        _app = app;
        Name = name;
    }

    public string Name { get; }

    public string Address { get; private set; } = "";

    /// <summary>Bodies received on /v1/*, in arrival order.</summary>
    public ConcurrentQueue<string> Bodies { get; } = new();

    /// <summary>Requests currently inside a /v1 handler.</summary>
    public int InFlight;

    /// <summary>What /health answers.</summary>
    public volatile bool Healthy = true;

    /// <summary>For SSE: released by the test after it saw the first chunk through the router.</summary>
    public TaskCompletionSource SecondChunk { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool Killed { get; private set; }

    /// <summary>Holds every /v1 request until <see cref="Release"/>.</summary>
    public void Hold() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => _gate?.TrySetResult();

    public static async Task<FakeReplica> StartAsync(string name)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var replica = new FakeReplica(app, name);
        app.MapGet("/health", () => replica.Healthy ? Results.Ok("ok") : Results.StatusCode(503));
        app.MapPost("/v1/chat/completions", replica.HandleAsync);
        app.MapPost("/v1/completions", replica.HandleAsync);
        await app.StartAsync();
        replica.Address = app.Urls.First();
        return replica;
    }

    /// <summary>Stops listening at once: connections to its port are refused from now on.</summary>
    public async Task KillAsync()
    {
        Killed = true;
        Release();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        try
        {
            await _app.StopAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!Killed)
        {
            await KillAsync();
        }

        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        Bodies.Enqueue(body);
        Interlocked.Increment(ref InFlight);
        try
        {
            if (_gate is { } gate)
            {
                await gate.Task.WaitAsync(context.RequestAborted);
            }

            var stream = false;
            try
            {
                using var doc = JsonDocument.Parse(body);
                stream = doc.RootElement.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
            }
            catch (JsonException)
            {
            }

            context.Response.Headers["x-fake-replica"] = Name;
            if (!stream)
            {
                await context.Response.WriteAsJsonAsync(new
                {
                    id = "cmpl-1",
                    @object = "chat.completion",
                    choices = new[] { new { index = 0, message = new { role = "assistant", content = $"from {Name}" }, finish_reason = "stop" } },
                    usage = new { prompt_tokens = 10, completion_tokens = 2, total_tokens = 12, prompt_tokens_details = new { cached_tokens = 0 } },
                }, context.RequestAborted);
                return;
            }

            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"one\"}}]}\n\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await SecondChunk.Task.WaitAsync(TimeSpan.FromSeconds(20), context.RequestAborted);
            await context.Response.WriteAsync("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"two\"},\"finish_reason\":\"stop\"}]}\n\n", context.RequestAborted);
            await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
        }
        finally
        {
            Interlocked.Decrement(ref InFlight);
        }
    }
}
