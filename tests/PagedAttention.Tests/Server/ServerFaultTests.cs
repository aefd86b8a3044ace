using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.AI.Sampling;
using PagedAttention.Server.Hosting;
using Xunit.Abstractions;

namespace PagedAttention.Tests.Server;

/// <summary>
/// Faults and load of issue 15 (item 8) against a real server: disconnecting clients and a failing forward pass. With
/// the soaks (alone): 200 concurrent streams would otherwise slow the timed tests of other classes on a 2-core box.
/// </summary>
[Collection(Reliability.SoakCollection.Name)]
public sealed class ServerFaultTests(ITestOutputHelper log)
{
    /// <summary>A CPU runner whose forward pass throws once <see cref="Fail"/> is set (a device fault in the middle of a batch).</summary>
    internal sealed class FailingRunner(string modelDir, int numBlocks, int blockSize) : IModelRunner
    {
        private readonly CpuModelRunner _inner = new(LlamaModel.Load(modelDir), numBlocks, blockSize);
        public volatile bool Fail;
        public IDecoderModel Model => _inner.Model;
        public string Device => _inner.Device;
        public int NumKvBlocks => _inner.NumKvBlocks;
        public int BlockSize => _inner.BlockSize;
        public IDeviceSampler? DeviceSampler => null;
        public bool CanLaunchAsync => false;

        public void Forward(ForwardBatch batch, Span<float> logits)
        {
            if (Fail) throw new InvalidOperationException("injected forward-pass failure");
            _inner.Forward(batch, logits);
        }

        public void ForwardSample(ForwardBatch batch, Span<int> tokens, Span<float> logits, ReadOnlySpan<int> logitRows) => throw new NotSupportedException();
        public void CopyBlocks(ReadOnlySpan<int> srcDst) => _inner.CopyBlocks(srcDst);
        public long KvBytesPerBlock => _inner.KvBytesPerBlock;
        public void AllocateSwapSpace(int numBlocks) => _inner.AllocateSwapSpace(numBlocks);
        public void SwapOut(ReadOnlySpan<int> deviceHost) => _inner.SwapOut(deviceHost);
        public void SwapIn(ReadOnlySpan<int> hostDevice) => _inner.SwapIn(hostDevice);
        public void LaunchSample(ForwardBatch batch) => throw new NotSupportedException();
        public void WaitSample(Span<int> tokens) => throw new NotSupportedException();
        public void Dispose() => _inner.Dispose();
    }

    [Fact]
    public async Task TwoHundredDisconnectingStreams_ThenAFreshRequestCompletes_AndNothingRuns()
    {
        await using var server = await ServerHost.StartAsync();
        var clients = Enumerable.Range(0, 200).Select(async i =>
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            try
            {
                using var r = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = ServerHost.Json(ServerHost.Chat($"Tell a long story number {i}.", 1500, "\"ignore_eos\":true,\"stream\":true")) };
                using var response = await server.Http.SendAsync(r, HttpCompletionOption.ResponseHeadersRead, cts.Token);
                await ServerHost.ReadEventsAsync(response, cts.Token);
                return false;
            }
            catch (OperationCanceledException) { return true; }
        }).ToArray();
        var cancelled = await Task.WhenAll(clients);
        Assert.All(cancelled, Assert.True); // none finished 1,500 tokens in 0.5 s
        var (status, body, _) = await server.PostAsync("/v1/chat/completions", ServerHost.Chat("Hello", 4));
        Assert.Equal(200, status);
        Assert.Equal(4, body!.Value.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var sw = Stopwatch.StartNew();
        while (server.Engine.GetMetrics() is var m && (m.Running > 0 || m.Waiting > 0) && sw.Elapsed < TimeSpan.FromSeconds(2)) await Task.Delay(10);
        var end = server.Engine.GetMetrics();
        log.WriteLine($"after {sw.ElapsedMilliseconds} ms: {end}");
        Assert.Equal(0, end.Running);
        Assert.Equal(0, end.Waiting);
        await Engine.EngineTestKit.WaitAllFree(server.Engine);
        var stats = server.Services.GetRequiredService<ServerContext>().Stats;
        for (int i = 0; i < 200 && stats.Admitted != stats.Completed + stats.Failed + stats.Cancelled; i++) await Task.Delay(10);
        Assert.Equal(201, stats.Admitted);
        Assert.Equal(200, stats.Cancelled);
        Assert.Equal(1, stats.Completed);
    }

    [Fact]
    public async Task ForwardPassFailure_FailsEveryInFlightRequest_HealthIs503_NothingHangs()
    {
        var options = ServerHost.DefaultEngine(maxSeqs: 16, blocks: 512);
        var runner = new FailingRunner(options.ModelPath, options.NumKvBlocks!.Value, options.BlockSize);
        var engine = LlmEngine.Create(runner, options);
        await using var server = await ServerHost.StartAsync(engine);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var streams = Enumerable.Range(0, 6).Select(async i =>
        {
            var r = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = ServerHost.Json(ServerHost.Chat($"Story {i}", 1500, "\"ignore_eos\":true,\"stream\":true")) };
            var response = await server.Http.SendAsync(r, HttpCompletionOption.ResponseHeadersRead, guard.Token);
            return await ServerHost.ReadEventsAsync(response, guard.Token);
        }).ToArray();
        var plain = Enumerable.Range(0, 2).Select(i => server.PostAsync("/v1/chat/completions", ServerHost.Chat($"Plain {i}", 1500, "\"ignore_eos\":true"), ct: guard.Token)).ToArray();
        while (engine.GetMetrics().Running < 8) await Task.Delay(10, guard.Token);
        await Task.Delay(100, guard.Token);
        runner.Fail = true;

        foreach (var events in await Task.WhenAll(streams))
        {
            Assert.Equal("[DONE]", events[^1]);
            var error = JsonDocument.Parse(events[^2]).RootElement;
            BadInputTests.AssertError(error, "in-stream error");
            Assert.Equal("server_error", error.GetProperty("error").GetProperty("type").GetString());
            Assert.True(events.Count > 3, "the stream had begun before the fault");
        }
        foreach (var (status, body, _) in await Task.WhenAll(plain))
        {
            Assert.Equal(500, status);
            BadInputTests.AssertError(body, "500");
        }
        var health = await server.Http.GetAsync("/health", guard.Token);
        Assert.Equal(503, (int)health.StatusCode);
        Assert.Contains("injected forward-pass failure", await health.Content.ReadAsStringAsync(guard.Token));
        var (after, afterBody, _) = await server.PostAsync("/v1/chat/completions", ServerHost.Chat("Hello", 2), ct: guard.Token);
        Assert.Equal(503, after);
        BadInputTests.AssertError(afterBody, "after the fault");
    }
}
