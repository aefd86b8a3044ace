using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;
using PagedAttention.Tests.Chat;
using static PagedAttention.Tests.Engine.EngineTestKit;

namespace PagedAttention.Tests.Reliability;

/// <summary>Bad hosts and bad requests fail alone: a throwing logger, NaN weights, a stalled reader, invalid parameters.</summary>
public sealed class EngineReliabilityTests
{
    /// <summary>Throws on every call at or above <paramref name="from"/>, as a broken sink would.</summary>
    internal sealed class ThrowingLogger(LogLevel from) : ILogger
    {
        public int Calls;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => throw new IOException("scope sink down");
        public bool IsEnabled(LogLevel logLevel) => logLevel >= from ? throw new IOException("sink down") : false;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Interlocked.Increment(ref Calls);
            if (logLevel >= from) throw new IOException("log sink down");
        }
    }

    internal sealed class FailingDetokenizer(int failAt) : IStreamingDetokenizer
    {
        private int _n;
        public string Append(int tokenId) => ++_n == failAt ? throw new FormatException("detokenizer broke") : "x";
        public string Flush() => "";
    }

    [Theory]
    [InlineData(LogLevel.Warning)]
    [InlineData(LogLevel.Error)]
    public async Task ThrowingLogger_NeitherFailsTheLoopNorOtherRequests(LogLevel from)
    {
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions
        {
            ModelPath = TestData.Model("llama"), BlockSize = 4, NumKvBlocks = 24, MaxNumSeqs = 8, MaxNumBatchedTokens = 64,
            Logger = new ThrowingLogger(from),
        });
        // A failing request logs an error; a pool this small preempts (warnings). The prompts are the last 20 tokens of
        // Prompts(8), distinct from their first token: their first 20 are the shared preamble, and 8 identical prompts
        // shared their blocks through the prefix cache, so whether the pool ran out depended on timing (a flaky miss
        // of "the test should preempt" under CI load, 2026-12-04). Unshared, 8 x 9 blocks far exceed the 24.
        var bad = engine.GenerateAsync([5, 6, 7], Greedy(8), () => new FailingDetokenizer(3));
        var badTask = Task.Run(async () => { await foreach (var _ in bad) { } });
        var prompts = Prompts(8);
        var good = await Task.WhenAll(prompts.Select(p => Collect(engine, p[^20..], Greedy(16))));
        Assert.All(good, g => Assert.Equal(16, g.Count));
        var e = await Assert.ThrowsAsync<FormatException>(() => badTask);
        Assert.Contains("detokenizer broke", e.Message);
        var m = engine.GetMetrics();
        Assert.True(m.Preemptions > 0 || from == LogLevel.Error, "the test should preempt");
        Assert.True(m.DroppedLogCalls > 0);
        Assert.Null(engine.LoopFailure);
        Assert.Equal(4, (await Collect(engine, [9, 10, 11], Greedy(4))).Count); // still serving
        await WaitAllFree(engine);
    }

    [Fact]
    public async Task NanWeights_FailTheRequestWithAClearMessage_InsteadOfEmittingGarbage()
    {
        string dir = Path.Combine(Path.GetTempPath(), "pa-nan-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            foreach (var f in Directory.GetFiles(TestData.Model("llama"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            PoisonTensor(Path.Combine(dir, "model.safetensors"), "model.norm.weight");
            await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = dir, NumKvBlocks = 16 });
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Collect(engine, [5, 6, 7], Greedy(4)));
            Assert.Contains("non-finite logits", e.Message);
            await WaitAllFree(engine);
            // Switched off, the same weights stream tokens (the garbage the check exists to stop).
            await using var unchecked_ = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = dir, NumKvBlocks = 16, CheckFirstTokenLogits = false });
            Assert.Equal(4, (await Collect(unchecked_, [5, 6, 7], Greedy(4))).Count);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    // Overwrites one tensor's bytes with 0xFF: NaN in f32, bf16 and f16 alike.
    private static void PoisonTensor(string file, string name)
    {
        var bytes = File.ReadAllBytes(file);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n))!.AsObject();
        var offsets = header[name]!["data_offsets"]!.AsArray();
        int start = 8 + (int)n + (int)offsets[0]!.GetValue<long>(), end = 8 + (int)n + (int)offsets[1]!.GetValue<long>();
        bytes.AsSpan(start, end - start).Fill(0xFF);
        File.WriteAllBytes(file, bytes);
    }

    [Fact]
    public async Task StalledReader_IsAbortedAtTheBound_FreesItsBlocks_OthersGoOn()
    {
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = TestData.Model("llama"), NumKvBlocks = 64, MaxBufferedOutputsPerRequest = 40 });
        var stalled = engine.GenerateAsync([5, 6, 7], Greedy(120)).GetAsyncEnumerator();
        Assert.True(await stalled.MoveNextAsync()); // submitted; then nobody reads
        var other = Collect(engine, [8, 9, 10], Greedy(30)); // fewer outputs than the bound: never aborted
        Assert.Equal(30, (await other).Count);
        await WaitAllFree(engine);
        int read = 1;
        var e = await Assert.ThrowsAsync<InvalidOperationException>(async () => { while (await stalled.MoveNextAsync()) read++; });
        Assert.Contains("MaxBufferedOutputsPerRequest", e.Message);
        Assert.InRange(read, 2, 42); // what was buffered before the abort still arrives
        await stalled.DisposeAsync();
    }

    [Fact]
    public async Task BadSamplingParams_AreArgumentExceptions_NamingTheField()
    {
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = TestData.Model("llama"), NumKvBlocks = 16 });
        var e1 = await Assert.ThrowsAsync<ArgumentException>(() => Collect(engine, [5], new SamplingParams { CacheSalt = "" }));
        Assert.Contains("CacheSalt", e1.Message);
        var e2 = await Assert.ThrowsAsync<ArgumentNullException>(() => Collect(engine, [5], new SamplingParams { StopTokenIds = null! }));
        Assert.Contains("StopTokenIds", e2.Message);
        await Assert.ThrowsAsync<ArgumentNullException>(() => Collect(engine, [5], new SamplingParams { StopStrings = null! }));
        var e3 = await Assert.ThrowsAsync<ArgumentException>(() => Collect(engine, [5], new SamplingParams { MaxTokens = int.MaxValue }));
        Assert.Contains("MaxTokens", e3.Message);
        Assert.Equal(3, (await Collect(engine, [5, 6], Greedy(3))).Count);
    }

    [Fact]
    public async Task ChatClient_RejectsOutOfRangeNumbers_AndUnserializableArguments()
    {
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ChatClientTests.DefaultModel, NumKvBlocks = 32 });
        var client = engine.AsChatClient();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetResponseAsync("hi", new ChatOptions { AdditionalProperties = new() { ["seed"] = 1e300 } }));
        Assert.Contains("seed", e.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetResponseAsync("hi", new ChatOptions { AdditionalProperties = new() { ["min_p"] = 1e300 } }));
        var cyclic = new Node();
        cyclic.Next = cyclic;
        var call = new FunctionCallContent("c1", "f", new Dictionary<string, object?> { ["x"] = cyclic });
        var a = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync([new(ChatRole.User, "hi"), new(ChatRole.Assistant, [call])]));
        Assert.Contains("JSON", a.Message);
        Assert.NotNull(await client.GetResponseAsync("hi", new ChatOptions { MaxOutputTokens = 2 }));
    }

    private sealed class Node { public Node? Next { get; set; } }
}
