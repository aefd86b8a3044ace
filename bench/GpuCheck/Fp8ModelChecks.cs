using System.Diagnostics;
using PagedAttention.AI.Models;
using PagedAttention.AI.Models.Cuda;
using PagedAttention.Kernels.Cuda;

namespace GpuCheck;

/// <summary>
/// FP8 layers (W8A8) against the engine's own bf16 path on the same checkpoint (issue 18, item 7): the bf16 model
/// decodes each prompt greedily, the FP8 model is teacher-forced along the same tokens, and their next-token argmax
/// is compared at every position — over all positions and over those where bf16's top-2 margin exceeds 0.1 (a
/// near-tie flips on any rounding). Prompts: a checkpoint's golden.json cases, else English text, else seeded random tokens.
/// An entry "FP8_DIR=REF_DIR" compares an FP8 checkpoint's own codes against its dequantized twin in bf16; a plain
/// DIR quantizes the float checkpoint at load.
/// Also: the FP8 model's greedy tokens in one batch equal those decoded one sequence at a time (a check).
/// The agreement is printed with its verdict against the issue's bar, not checked: its oracle is
/// tools/fp8/w8a8_agreement.py (the same W8A8 in plain torch), which on the H200 gave the engine's numbers within 1–3
/// points on all six random checkpoints (66–82 % on the tiny ones, 15–18 % on the random 8B shape: random weights do
/// not survive W8A8) and 98.3 % on the trained default model (docs/cuda.md, "FP8 weights").
/// </summary>
internal static class Fp8ModelChecks
{
    /// <summary>The issue's bar for the margin-filtered agreement (97 % on the random 8B shape).</summary>
    public const double AgreementBar = 0.97;

    public const float Margin = 0.1f;

    public static void Run(CudaDevice d, IEnumerable<string> dirs, Report rep, int continuation)
    {
        if (d.Blas.Fp8Unsupported() is { } why) { Console.WriteLine($"SKIP fp8 models: {why}"); return; }
        foreach (var dir in dirs)
            rep.Run($"fp8 model {dir}", () => One(d, dir, rep, continuation));
    }

    private static void One(CudaDevice d, string dir, Report rep, int continuation)
    {
        string refDir = dir.Contains('=') ? dir[(dir.IndexOf('=') + 1)..] : dir;
        dir = dir.Contains('=') ? dir[..dir.IndexOf('=')] : dir;
        string name = Path.GetFileName(dir.TrimEnd('/'));
        var sw = Stopwatch.StartNew();
        using var bf = CudaLlamaModel.Load(refDir, Program.Switches, d);
        double bfLoad = sw.Elapsed.TotalSeconds;
        sw.Restart();
        CudaLlamaModel fp;
        try { fp = CudaLlamaModel.Load(dir, Program.Switches, d, fp8Layers: true); }
        catch (ModelLoadException e) { Console.WriteLine($"SKIP fp8 model {name}: {e.Message}"); return; }
        using var _ = fp;
        Console.WriteLine($"INFO {name}: bf16 {bf.WeightBytes / 1e9:F3} GB loaded in {bfLoad:F1} s; fp8 layers {fp.WeightBytes / 1e9:F3} GB loaded in {sw.Elapsed.TotalSeconds:F1} s");
        var prompts = Prompts(refDir, bf.Config.VocabSize);
        int vocab = bf.Config.VocabSize, maxLen = prompts.Max(p => p.Length) + continuation + 1;

        int positions = 0, agree = 0, confident = 0, confidentAgree = 0;
        double relDiff = 0;
        foreach (var prompt in prompts)
        {
            var sb = new Steps([prompt[..1]], 16, maxLen);
            var sf = new Steps([prompt[..1]], 16, maxLen);
            using var cb = bf.CreateKvCache(sb.NumBlocks, 16);
            using var cf = fp.CreateKvCache(sf.NumBlocks, 16);
            var lb = new float[vocab];
            var lf = new float[vocab];
            for (int i = 0; i < prompt.Length - 1 + continuation; i++)
            {
                bf.Forward(sb.Next(), cb, lb);
                fp.Forward(sf.Next(), cf, lf);
                var (top, margin) = Top(lb);
                int ftop = Top(lf).Index;
                positions++;
                if (ftop == top) agree++;
                if (margin > Margin) { confident++; if (ftop == top) confidentAgree++; }
                relDiff += Rand.MaxAbs(lf, lb) / lb.Max(MathF.Abs);
                int next = i + 1 < prompt.Length ? prompt[i + 1] : top; // the prompt, then bf16's greedy continuation
                sb.Append([next]);
                sf.Append([next]);
            }
        }
        double all = (double)agree / positions, conf = confident == 0 ? 1 : (double)confidentAgree / confident;
        Console.WriteLine($"INFO {name} fp8 vs bf16 teacher-forced top-1: {agree}/{positions} = {all:P2} of all positions; " +
            $"mean max |logit diff| {relDiff / positions:P2} of max |logit|");
        Console.WriteLine($"INFO {name} fp8 vs bf16 top-1 where the bf16 margin > {Margin}: {confidentAgree}/{confident} = {conf:P2} " +
            $"({prompts.Length} prompts, {continuation} greedy tokens each) -> {(conf >= AgreementBar ? "meets" : "BELOW")} the {AgreementBar:P0} bar; " +
            "compare tools/fp8/w8a8_agreement.py on the same checkpoint");

        var alone = prompts.Select(p => ModelChecks.Generate(fp, [p], 24, maxLen)[0]).ToArray();
        var batched = ModelChecks.Generate(fp, prompts, 24, maxLen);
        int same = prompts.Select((_, i) => alone[i].SequenceEqual(batched[i]) ? 1 : 0).Sum();
        rep.Check($"{name} fp8 greedy batch of {prompts.Length} = one at a time", same == prompts.Length, $"{same}/{prompts.Length} sequences identical over 24 tokens");
    }

    // golden.json's prompts, else English text through the model's tokenizer (a trained model such as models/default,
    // whose golden.json is elsewhere), else seeded random tokens: the same prompts as the FP8 KV cache check.
    private static int[][] Prompts(string dir, int vocab) => KvFp8ModelChecks.Prompts(dir, vocab);

    private static (int Index, float Margin) Top(float[] logits)
    {
        int best = 0;
        float first = float.NegativeInfinity, second = float.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
        {
            if (logits[i] > first) { second = first; first = logits[i]; best = i; }
            else if (logits[i] > second) second = logits[i];
        }
        return (best, first - second);
    }
}
