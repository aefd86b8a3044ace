using System.Text.Json.Nodes;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.AI.Sampling;

namespace PagedAttention.Tests.Loading;

/// <summary>A failed load touches nothing shared: an engine already serving in the same process goes on.</summary>
public sealed class RunningEngineSurvivesBadLoadsTests
{
    [Fact]
    public async Task BadLoads_WhileAnotherEngineStreams_LeaveItServing()
    {
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = Chat.ChatClientTests.DefaultModel, NumKvBlocks = 64 });
        var greedy = new SamplingParams { Temperature = 0, MaxTokens = 48, IgnoreEos = true };
        var expected = await Collect(engine.GenerateAsync([5, 6, 7, 8], greedy));

        var ids = new List<int>();
        await using var stream = engine.GenerateAsync([5, 6, 7, 8], greedy).GetAsyncEnumerator();
        Assert.True(await stream.MoveNextAsync());
        ids.Add(stream.Current.TokenId);

        using (var layers = ScratchModelDir.Llama())
        {
            layers.EditJson("config.json", c => c["num_hidden_layers"] = int.MaxValue);
            await Assert.ThrowsAsync<ModelLoadException>(() => LlmEngine.LoadAsync(new EngineOptions { ModelPath = layers.Dir }));
        }
        using (var tiling = ScratchModelDir.Default())
        {
            var bytes = File.ReadAllBytes(tiling.Weights);
            bytes[0]--; // the header length one short: every tensor one byte early
            File.WriteAllBytes(tiling.Weights, bytes);
            await Assert.ThrowsAsync<ModelLoadException>(() => LlmEngine.LoadAsync(new EngineOptions { ModelPath = tiling.Dir, NumKvBlocks = 8 }));
        }
        using (var tok = ScratchModelDir.Default())
        {
            var root = JsonNode.Parse(File.ReadAllText(tok["tokenizer.json"]))!;
            JsonEdit.Set(root, "/model/vocab/<|bos|>", 2147483647);
            File.WriteAllText(tok["tokenizer.json"], root.ToJsonString());
            await Assert.ThrowsAsync<ModelLoadException>(() => LlmEngine.LoadAsync(new EngineOptions { ModelPath = tok.Dir, NumKvBlocks = 8 }));
        }
        await Assert.ThrowsAsync<ArgumentException>(() =>
            LlmEngine.LoadAsync(new EngineOptions { ModelPath = Chat.ChatClientTests.DefaultModel, NumKvBlocks = EngineOptions.NumKvBlocksLimit }));

        while (await stream.MoveNextAsync()) ids.Add(stream.Current.TokenId);
        Assert.Equal(expected, ids);
        Assert.Equal(expected, await Collect(engine.GenerateAsync([5, 6, 7, 8], greedy)));
        Assert.Null(engine.LoopFailure);
    }

    private static async Task<List<int>> Collect(IAsyncEnumerable<GenerationOutput> outputs)
    {
        var ids = new List<int>();
        await foreach (var o in outputs) ids.Add(o.TokenId);
        return ids;
    }
}
