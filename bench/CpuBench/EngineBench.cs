using System.Diagnostics;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;

namespace CpuBench;

/// <summary>Single-stream greedy decode through the real engine (LlmEngine.GenerateAsync) on a written checkpoint.</summary>
internal static class EngineBench
{
    /// <summary>Returns per round [decode seconds per token, bandwidth GB/s measured just before, prefill+first token seconds].</summary>
    public static async Task<double[]> Run(string modelDir, int promptLen, int newTokens, int rounds, Func<double> beforeRound)
    {
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = modelDir, NumKvBlocks = (promptLen + newTokens) / 16 + 4 });
        var results = new List<double>();
        var prompt = Enumerable.Range(0, promptLen).Select(i => 3 + i * 7 % 1000).ToArray();
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = newTokens, IgnoreEos = true };
        // Warm-up request: JIT tiering and page-in of the memory-mapped weights.
        await foreach (var _ in engine.GenerateAsync(prompt, new SamplingParams { Temperature = 0, MaxTokens = 8, IgnoreEos = true })) { }
        for (int round = 0; round < rounds; round++)
        {
        double bw = beforeRound();
        long start = Stopwatch.GetTimestamp();
        double first = 0;
        int n = 0;
        long decodeStart = 0;
        await foreach (var o in engine.GenerateAsync(prompt, sampling))
        {
            if (n++ == 0)
            {
                first = Stopwatch.GetElapsedTime(start).TotalSeconds;
                decodeStart = Stopwatch.GetTimestamp();
            }
        }
        double decode = Stopwatch.GetElapsedTime(decodeStart).TotalSeconds;
        results.Add(decode / (n - 1));
        results.Add(bw);
        results.Add(first);
        }
        return results.ToArray();
    }
}
