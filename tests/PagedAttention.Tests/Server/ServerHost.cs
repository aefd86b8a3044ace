using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PagedAttention.AI.Engine;
using PagedAttention.Server;

namespace PagedAttention.Tests.Server;

/// <summary>
/// A real Kestrel server on 127.0.0.1 (port 0) over one engine, with the endpoints of PagedAttention.Server mapped as
/// any ASP.NET app would map them; plus raw-HTTP helpers for the tests.
/// </summary>
internal sealed class ServerHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ServerHost(WebApplication app, LlmEngine engine, Uri address)
    {
        _app = app;
        Engine = engine;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(120) };
    }

    public LlmEngine Engine { get; }
    public Uri Address { get; }
    public HttpClient Http { get; }
    public IServiceProvider Services => _app.Services;

    public static EngineOptions DefaultEngine(int maxSeqs = 64, int blocks = 2048) =>
        new() { ModelPath = PagedAttention.Tests.Chat.ChatClientTests.DefaultModel, MaxNumSeqs = maxSeqs, NumKvBlocks = blocks };

    /// <summary>Starts a server over <paramref name="engine"/> (owned: disposed with the server).</summary>
    public static async Task<ServerHost> StartAsync(LlmEngine engine, Action<OpenAIServerOptions>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(engine);
        builder.Services.AddOpenAIServer(configure);
        var app = builder.Build();
        app.MapOpenAIEndpoints();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ServerHost(app, engine, new Uri(address.Replace("[::]", "127.0.0.1")));
    }

    public static async Task<ServerHost> StartAsync(EngineOptions? options = null, Action<OpenAIServerOptions>? configure = null) =>
        await StartAsync(await LlmEngine.LoadAsync(options ?? DefaultEngine()), configure);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await Engine.DisposeAsync();
    }

    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>POSTs <paramref name="body"/> (with an optional Bearer key); returns the status and the parsed body (null when not JSON).</summary>
    public async Task<(int Status, JsonElement? Body, HttpResponseMessage Response)> PostAsync(string path, string body, string? key = null, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(body) };
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var response = await Http.SendAsync(request, ct);
        string text = await response.Content.ReadAsStringAsync(ct);
        JsonElement? json = null;
        try { json = JsonDocument.Parse(text).RootElement.Clone(); } catch (JsonException) { }
        return ((int)response.StatusCode, json, response);
    }

    /// <summary>A chat request body (greedy unless told otherwise) as JSON text.</summary>
    public static string Chat(string content, int maxTokens = 8, string extra = "") =>
        $$"""{"model":"default","messages":[{"role":"user","content":{{JsonSerializer.Serialize(content)}}}],"max_tokens":{{maxTokens}},"temperature":0{{(extra.Length > 0 ? "," + extra : "")}}}""";

    /// <summary>Asserts /health is 200 and a small chat request completes.</summary>
    public async Task AssertHealthyAsync()
    {
        var health = await Http.GetAsync("/health");
        Assert.Equal(200, (int)health.StatusCode);
        var (status, body, _) = await PostAsync("/v1/chat/completions", Chat("Hello", 2));
        Assert.Equal(200, status);
        Assert.Equal("chat.completion", body!.Value.GetProperty("object").GetString());
    }

    /// <summary>Reads an SSE stream: the data payloads in order, up to and including [DONE].</summary>
    public static async Task<List<string>> ReadEventsAsync(HttpResponseMessage response, CancellationToken ct = default)
    {
        var events = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        string? line;
        while ((line = await reader.ReadLineAsync(ct)) is not null)
        {
            if (line.Length == 0) continue;
            Assert.StartsWith("data: ", line);
            events.Add(line["data: ".Length..]);
            if (events[^1] == "[DONE]") break;
        }
        return events;
    }
}
