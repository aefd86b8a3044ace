using System.Text.Json;
using PagedAttention.AI.Models;
using PagedAttention.AI.Models.Cuda;
using PagedAttention.Kernels.Cuda;

namespace GpuCheck;

/// <summary>The tiny checkpoints' transformers goldens (tests/PagedAttention.Tests/Data/models) on the GPU.</summary>
internal static class ModelChecks
{
    /// <summary>First-step logits must be within this fraction of the largest |golden logit| (bf16 weights and KV).</summary>
    public const float LogitTolerance = 0.02f;

    private sealed record Case(int[] Prompt, int[] Greedy, float[] Logits);

    public static void Run(CudaDevice d, string modelsDir, Report rep)
    {
        foreach (var name in new[] { "llama", "llama-bf16", "mistral", "qwen2", "qwen3" })
            rep.Run($"model {name}", () => One(d, Path.Combine(modelsDir, name), name, rep));
    }

    private static void One(CudaDevice d, string dir, string name, Report rep)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "golden.json")));
        int newTokens = doc.RootElement.GetProperty("new_tokens").GetInt32();
        var cases = doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("prompt").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            c.GetProperty("greedy").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            c.GetProperty("logits").EnumerateArray().Select(e => e.GetSingle()).ToArray())).ToArray();
        using var gpu = CudaLlamaModel.Load(dir, d);
        using var cpu = LlamaModel.Load(dir);
        int vocab = gpu.Config.VocabSize;
        int maxLen = cases.Max(c => c.Prompt.Length) + newTokens + 1;

        // First-step logits, one sequence at a time, against transformers and against the CPU forward pass.
        float worst = 0, worstCpu = 0;
        foreach (var c in cases)
        {
            var steps = new Steps([c.Prompt], 16, maxLen);
            using var cache = gpu.CreateKvCache(steps.NumBlocks, 16);
            var logits = new float[vocab];
            gpu.Forward(steps.Next(), cache, logits);
            float scale = c.Logits.Max(MathF.Abs);
            worst = MathF.Max(worst, Rand.MaxAbs(logits, c.Logits) / scale);
            var steps2 = new Steps([c.Prompt], 16, maxLen);
            using var cpuCache = cpu.CreateKvCache(steps2.NumBlocks, 16);
            var cpuLogits = new float[vocab];
            cpu.Forward(steps2.Next(), cpuCache, cpuLogits);
            worstCpu = MathF.Max(worstCpu, Rand.MaxAbs(logits, cpuLogits) / scale);
        }
        rep.Check($"{name} first-step logits", worst <= LogitTolerance,
            $"{cases.Length} prompts, max |gpu - transformers| = {worst:P2} of max |logit| (vs CPU backend {worstCpu:P2}); tolerance {LogitTolerance:P0}");

        // Greedy tokens: each prompt alone, then all prompts in one batch (mixed-length prefill, then batched decode).
        int alone = 0;
        foreach (var c in cases) if (Generate(gpu, [c.Prompt], newTokens, maxLen)[0].SequenceEqual(c.Greedy)) alone++;
        rep.Check($"{name} greedy tokens, one sequence", alone == cases.Length, $"{alone}/{cases.Length} prompts identical to transformers over {newTokens} tokens");
        var batched = Generate(gpu, cases.Select(c => c.Prompt).ToArray(), newTokens, maxLen);
        int same = cases.Select((c, i) => batched[i].SequenceEqual(c.Greedy) ? 1 : 0).Sum();
        rep.Check($"{name} greedy tokens, batch of {cases.Length}", same == cases.Length, $"{same}/{cases.Length} identical");
    }

    private static int[][] Generate(CudaLlamaModel m, int[][] prompts, int newTokens, int maxLen)
    {
        var steps = new Steps(prompts, 16, maxLen);
        using var cache = m.CreateKvCache(steps.NumBlocks, 16);
        var ids = new int[prompts.Length];
        for (int i = 0; i < newTokens; i++)
        {
            m.ForwardGreedy(steps.Next(), cache, ids);
            steps.Append(ids);
        }
        return prompts.Select((p, s) => steps.Tokens(s).Skip(p.Length).ToArray()).ToArray();
    }
}
