using System.Diagnostics;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;

namespace CpuBench;

/// <summary>Single-stream greedy decode through the real engine (LlmEngine.GenerateAsync) on a written checkpoint.</summary>
internal static class EngineBench
{
    public static async Task<(double TokensPerSecond, double FirstTokenSeconds)> Run(string modelDir, int promptLen, int newTokens)
    {
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = modelDir, NumKvBlocks = (promptLen + newTokens) / 16 + 4 });
        var prompt = Enumerable.Range(0, promptLen).Select(i => 3 + i * 7 % 1000).ToArray();
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = newTokens, IgnoreEos = true };
        // Warm-up request: JIT tiering and page-in of the memory-mapped weights.
        await foreach (var _ in engine.GenerateAsync(prompt, new SamplingParams { Temperature = 0, MaxTokens = 8, IgnoreEos = true })) { }
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
        return ((n - 1) / decode, first);
    }
}
