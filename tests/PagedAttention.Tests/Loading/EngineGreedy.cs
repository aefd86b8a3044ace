using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;

namespace PagedAttention.Tests.Loading;

/// <summary>Greedy tokens of a checkpoint through <see cref="LlmEngine"/> on the CPU, one prompt after another.</summary>
internal static class EngineGreedy
{
    public static async Task<List<int[]>> RunAsync(string modelDir, int[][] prompts, int maxTokens)
    {
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = modelDir });
        var outs = new List<int[]>();
        foreach (var p in prompts)
        {
            var tokens = new List<int>();
            await foreach (var o in engine.GenerateAsync(p, new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true }))
                tokens.Add(o.TokenId);
            outs.Add([.. tokens]);
        }
        return outs;
    }
}
