using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;

namespace GpuCheck;

/// <summary>
/// LlmEngine with <c>KvCacheDtype.Fp8E4M3</c> on CUDA, <c>GpuCheck --kv-fp8-engine DIR[,DIR...]</c>: the KV blocks
/// sized from the same <c>GpuMemoryUtilization</c> (0.05: small models) double against bf16 (the engines load one after the other, so each
/// sees the same free memory; 1 % slack for what other processes do meanwhile), and FP8-KV greedy tokens are the same
/// in a batch of 9 as one at a time, and with CUDA graphs as eager (9 prompts of 3–91 random tokens, 20 tokens each).
/// </summary>
internal static class KvFp8EngineChecks
{
    private static readonly SamplingParams Greedy = new() { Temperature = 0, MaxTokens = 20, IgnoreEos = true };

    public static void Run(IEnumerable<string> dirs, Report rep)
    {
        foreach (var dir in dirs) rep.Run($"kv fp8 engine {dir}", () => One(dir, rep));
    }

    private static LlmEngine Load(string dir, KvCacheDtype kv, bool eager = false) =>
        LlmEngine.LoadAsync(new EngineOptions
        {
            ModelPath = dir, Device = "cuda", KvCacheDtype = kv, EnforceEager = eager, MaxNumSeqs = 16, MaxNumBatchedTokens = 512,
            GpuMemoryUtilization = 0.05, MaxModelLen = 4096, DetokenizerFactory = null,
        }).GetAwaiter().GetResult();

    private static async Task<int[]> Generate(LlmEngine e, int[] prompt)
    {
        var ids = new List<int>();
        await foreach (var o in e.GenerateAsync(prompt, Greedy)) ids.Add(o.TokenId);
        return [.. ids];
    }

    private static void One(string dir, Report rep)
    {
        string name = Path.GetFileName(dir.TrimEnd('/'));
        int bf16Blocks;
        using (var b = Load(dir, KvCacheDtype.Auto)) bf16Blocks = b.NumKvBlocks;
        using var f = Load(dir, KvCacheDtype.Fp8E4M3);
        double ratio = (double)f.NumKvBlocks / bf16Blocks;
        rep.Check($"{name} fp8 KV blocks at GpuMemoryUtilization 0.05 = 2 x bf16", ratio is > 1.98 and < 2.02,
            $"{f.NumKvBlocks} vs {bf16Blocks} blocks ({ratio:F3}x)");
        var r = new Random(7);
        int vocab = f.Model.Config.VocabSize;
        var prompts = Enumerable.Range(0, 9).Select(i => Enumerable.Range(0, 3 + 11 * i).Select(_ => r.Next(1, vocab)).ToArray()).ToArray();
        var all = Task.WhenAll(prompts.Select(p => Generate(f, p))).GetAwaiter().GetResult();
        var alone = prompts.Select(p => Generate(f, p).GetAwaiter().GetResult()).ToArray();
        int same = all.Zip(alone).Count(p => p.First.SequenceEqual(p.Second));
        rep.Check($"{name} fp8 KV greedy batch of 9 = one at a time", same == prompts.Length, $"{same}/{prompts.Length} sequences identical over 20 tokens");
        using var eager = Load(dir, KvCacheDtype.Fp8E4M3, eager: true);
        var eAll = Task.WhenAll(prompts.Select(p => Generate(eager, p))).GetAwaiter().GetResult();
        int sameEager = all.Zip(eAll).Count(p => p.First.SequenceEqual(p.Second));
        rep.Check($"{name} fp8 KV greedy graphs = eager", sameEager == prompts.Length, $"{sameEager}/{prompts.Length} sequences identical over 20 tokens");
    }
}
