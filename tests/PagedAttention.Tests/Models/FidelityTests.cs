using System.Text.Json;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.AI.Sampling;

namespace PagedAttention.Tests.Models;

/// <summary>The CPU forward pass against Hugging Face transformers goldens (tools/fidelity/make_tiny_models.py).</summary>
public class FidelityTests
{
    public static TheoryData<string> ModelNames => new() { "llama", "llama-bf16", "mistral", "qwen2", "qwen3" };

    private sealed record Case(int[] Prompt, int[] Greedy, float[] Logits);

    private static (int NewTokens, Case[] Cases) Golden(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TestData.Model(name), "golden.json")));
        var root = doc.RootElement;
        var cases = root.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("prompt").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            c.GetProperty("greedy").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            c.GetProperty("logits").EnumerateArray().Select(e => e.GetSingle()).ToArray())).ToArray();
        return (root.GetProperty("new_tokens").GetInt32(), cases);
    }

    [Theory]
    [MemberData(nameof(ModelNames))]
    public void FirstStepLogitsMatchTransformers(string name)
    {
        var (_, cases) = Golden(name);
        using var model = LlamaModel.Load(TestData.Model(name));
        using var cache = model.CreateKvCache(numBlocks: 16, blockSize: 16);
        int vocab = model.Config.VocabSize;
        var logits = new float[vocab];
        foreach (var c in cases)
        {
            int n = c.Prompt.Length;
            var batch = new ForwardBatch(n, 1, 16);
            // Non-contiguous, reversed block ids: attention must follow the block table.
            for (int b = 0; b < 16; b++) batch.BlockTables[b] = 15 - b;
            batch.NumSeqs = 1;
            batch.NumTokens = n;
            batch.QueryStarts[1] = n;
            batch.ContextLens[0] = n;
            for (int i = 0; i < n; i++)
            {
                batch.TokenIds[i] = c.Prompt[i];
                batch.Positions[i] = i;
                batch.SlotMapping[i] = (15 - i / 16) * 16 + i % 16;
            }
            model.Forward(batch, cache, logits);
            Assert.Equal(vocab, c.Logits.Length);
            float maxDiff = 0;
            for (int i = 0; i < vocab; i++) maxDiff = MathF.Max(maxDiff, MathF.Abs(logits[i] - c.Logits[i]));
            Assert.True(maxDiff <= 1e-3f, $"{name}, prompt length {n}: max |logit diff| = {maxDiff}");
        }
    }

    [Theory]
    [MemberData(nameof(ModelNames))]
    public async Task GreedyTokensMatchTransformers(string name)
    {
        var (newTokens, cases) = Golden(name);
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = TestData.Model(name), NumKvBlocks = 32 });
        foreach (var c in cases)
        {
            var got = new List<int>();
            await foreach (var o in engine.GenerateAsync(c.Prompt, new SamplingParams { Temperature = 0, MaxTokens = newTokens, IgnoreEos = true }))
                got.Add(o.TokenId);
            Assert.True(c.Greedy.SequenceEqual(got), $"{name}, prompt length {c.Prompt.Length}: expected [{string.Join(",", c.Greedy)}] got [{string.Join(",", got)}]");
        }
    }
}
