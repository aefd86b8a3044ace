using System.Text.Json;
using PagedAttention.AI.Models;
using PagedAttention.AI.Models.Cuda;
using PagedAttention.Kernels.Cuda;

namespace GpuCheck;

/// <summary>The tiny checkpoints' transformers goldens (tests/PagedAttention.Tests/Data/models) on the GPU.</summary>
internal static class ModelChecks
{
    /// <summary>
    /// First-step logits must be within this fraction of the largest |golden logit|. The goldens are fp32; rounding the
    /// same tensors to bf16 on the CPU (tests/PagedAttention.Tests/Cuda/Bf16RoundingTests.cs) moves these high-gain
    /// random models' logits by 1.9-5.5 %, so 6 % is the bf16 budget, not slack for bugs.
    /// </summary>
    public const float LogitTolerance = 0.06f;

    /// <summary>Prefill vs. decode of the same last token: both paths round identically except for GEMM order.</summary>
    public const float PathTolerance = 0.01f;

    internal sealed record Case(int[] Prompt, int[] Greedy, float[] Logits);

    /// <summary>A checkpoint's transformers goldens (golden.json): greedy length and cases.</summary>
    internal static (int NewTokens, Case[] Cases) ReadGolden(string dir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "golden.json")));
        int newTokens = doc.RootElement.GetProperty("new_tokens").GetInt32();
        var cases = doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("prompt").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            c.GetProperty("greedy").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            c.GetProperty("logits").EnumerateArray().Select(e => e.GetSingle()).ToArray())).ToArray();
        return (newTokens, cases);
    }

    public static void Run(CudaDevice d, string modelsDir, Report rep)
    {
        foreach (var name in new[] { "llama", "llama-bf16", "mistral", "qwen2", "qwen3" })
            rep.Run($"model {name}", () => One(d, Path.Combine(modelsDir, name), name, rep));
    }

    private static void One(CudaDevice d, string dir, string name, Report rep)
    {
        var (newTokens, cases) = ReadGolden(dir);
        using var gpu = CudaLlamaModel.Load(dir, Program.Switches, d);
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

        // The decode path against the prefill path: prompt[..^1] prefilled, then the last token decoded.
        float worstPath = 0;
        foreach (var c in cases.Where(c => c.Prompt.Length > 1))
        {
            var whole = new float[vocab];
            var st = new Steps([c.Prompt], 16, maxLen);
            using (var cache = gpu.CreateKvCache(st.NumBlocks, 16)) gpu.Forward(st.Next(), cache, whole);
            var st2 = new Steps([c.Prompt[..^1]], 16, maxLen);
            var dec = new float[vocab];
            using (var cache = gpu.CreateKvCache(st2.NumBlocks, 16))
            {
                gpu.Forward(st2.Next(), cache, dec);
                st2.Append([c.Prompt[^1]]);
                gpu.Forward(st2.Next(), cache, dec);
            }
            worstPath = MathF.Max(worstPath, Rand.MaxAbs(dec, whole) / whole.Max(MathF.Abs));
        }
        rep.Check($"{name} decode step vs prefill", worstPath <= PathTolerance, $"max |diff| = {worstPath:P3} of max |logit|; tolerance {PathTolerance:P0}");

        // Greedy tokens: each prompt alone, then all prompts in one batch (mixed-length prefill, then batched decode).
        var alone = cases.Select(c => Generate(gpu, [c.Prompt], newTokens, maxLen)[0]).ToArray();
        var batched = Generate(gpu, cases.Select(c => c.Prompt).ToArray(), newTokens, maxLen);
        int same = cases.Select((_, i) => alone[i].SequenceEqual(batched[i]) ? 1 : 0).Sum();
        rep.Check($"{name} greedy batch of {cases.Length} = one at a time", same == cases.Length, $"{same}/{cases.Length} sequences identical over {newTokens} tokens");
        int exact = cases.Select((c, i) => alone[i].SequenceEqual(c.Greedy) ? 1 : 0).Sum();
        var prefixes = cases.Select((c, i) => alone[i].Zip(c.Greedy).TakeWhile(p => p.First == p.Second).Count()).ToArray();
        Console.WriteLine($"INFO {name} greedy vs transformers (fp32): {exact}/{cases.Length} identical over {newTokens} tokens; " +
            $"{prefixes.Count(p => p >= 16)}/{cases.Length} agree for >= 16 tokens; mean agreeing prefix {prefixes.Average():F1} tokens");
        rep.Check($"{name} first greedy token vs transformers", cases.Select((c, i) => alone[i][0] == c.Greedy[0] || Margin(c.Logits) < 2 * worst * c.Logits.Max(MathF.Abs)).All(b => b),
            $"{cases.Select((c, i) => alone[i][0] == c.Greedy[0] ? 1 : 0).Sum()}/{cases.Length} equal; every difference is a near-tie (golden top-2 margin < 2x the observed logit error)");
    }

    private static float Margin(float[] logits)
    {
        var top = logits.OrderDescending().Take(2).ToArray();
        return top[0] - top[1];
    }

    internal static int[][] Generate(CudaLlamaModel m, int[][] prompts, int newTokens, int maxLen)
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
