using PagedAttention.AI.Models.Cuda;
using PagedAttention.Kernels.Cuda;
using PagedAttention.Text.Tokenization;

namespace GpuCheck;

/// <summary>
/// The FP8 KV cache against the engine's own bf16 KV cache on the same model (issue 18, item 7),
/// <c>GpuCheck --kv-fp8-models DIR[=BAR][,DIR[=BAR]...]</c>: one bf16 model, two caches. Each prompt's first half is
/// prefilled in one step (prefill_attention_fp8), then every later position is a decode step (paged_attention_fp8)
/// fed the true next token — the prompt, then the bf16 path's greedy continuation — and the two paths' next-token
/// argmax are compared where the bf16 top-1/top-2 margin exceeds 0.1 (the rule); the check passes at BAR
/// (default 0.97; the issue asks 0.98 on the trained default model, 0.97 on the random 8B shape).
/// Prompts: golden.json's cases; else, with a tokenizer.json, <c>tools/fidelity/english.txt</c> (run from the repo root)
/// in 4 chunks of up to 128 tokens; else 4 seeded random sequences of 256 tokens.
/// </summary>
internal static class KvFp8ModelChecks
{
    public const double DefaultBar = 0.97;

    public static void Run(CudaDevice d, IEnumerable<string> entries, Report rep, int continuation)
    {
        foreach (var entry in entries)
        {
            int eq = entry.LastIndexOf('=');
            string dir = eq > 0 ? entry[..eq] : entry;
            double bar = eq > 0 ? double.Parse(entry[(eq + 1)..], System.Globalization.CultureInfo.InvariantCulture) : DefaultBar;
            rep.Run($"kv fp8 model {dir}", () => One(d, dir, bar, rep, continuation));
        }
    }

    private static void One(CudaDevice d, string dir, double bar, Report rep, int continuation)
    {
        string name = Path.GetFileName(dir.TrimEnd('/'));
        using var m = CudaLlamaModel.Load(dir, Program.Switches, d);
        var prompts = Prompts(dir, m.Config.VocabSize);
        int vocab = m.Config.VocabSize, maxLen = prompts.Max(p => p.Length) + continuation + 1;
        int positions = 0, agree = 0, confident = 0, confidentAgree = 0;
        double relDiff = 0;
        foreach (var prompt in prompts)
        {
            int pre = Math.Max(1, prompt.Length / 2);
            var sb = new Steps([prompt[..pre]], 16, maxLen);
            var sf = new Steps([prompt[..pre]], 16, maxLen);
            using var cb = m.CreateKvCache(sb.NumBlocks, 16, fp8: false);
            using var cf = m.CreateKvCache(sf.NumBlocks, 16, fp8: true);
            var lb = new float[vocab];
            var lf = new float[vocab];
            for (int i = pre - 1; i < prompt.Length - 1 + continuation; i++)
            {
                m.Forward(sb.Next(), cb, lb);
                m.Forward(sf.Next(), cf, lf);
                var (top, margin) = Top(lb);
                int ftop = Top(lf).Index;
                positions++;
                if (ftop == top) agree++;
                if (margin > Fp8ModelChecks.Margin) { confident++; if (ftop == top) confidentAgree++; }
                relDiff += Rand.MaxAbs(lf, lb) / lb.Max(MathF.Abs);
                int next = i + 1 < prompt.Length ? prompt[i + 1] : top;
                sb.Append([next]);
                sf.Append([next]);
            }
        }
        double all = (double)agree / positions, conf = confident == 0 ? 1 : (double)confidentAgree / confident;
        Console.WriteLine($"INFO {name} fp8 KV vs bf16 KV teacher-forced top-1: {agree}/{positions} = {all:P2} of all positions; mean max |logit diff| {relDiff / positions:P3} of max |logit|");
        rep.Check($"{name} fp8 KV cache top-1 = bf16 KV where the bf16 margin > {Fp8ModelChecks.Margin}", conf >= bar,
            $"{confidentAgree}/{confident} = {conf:P2} (bar {bar:P0}; {prompts.Length} prompts, half prefilled, {continuation} greedy tokens each)");
    }

    /// <summary>golden.json's prompts; else 4 × 128 tokens of tools/fidelity/english.txt through the model's tokenizer; else random.</summary>
    internal static int[][] Prompts(string dir, int vocab)
    {
        if (File.Exists(Path.Combine(dir, "golden.json"))) return ModelChecks.ReadGolden(dir).Cases.Select(c => c.Prompt).ToArray();
        string text = Path.Combine("tools", "fidelity", "english.txt"), tok = Path.Combine(dir, "tokenizer.json");
        if (File.Exists(text) && File.Exists(tok))
        {
            var ids = Tokenizer.FromFile(tok).Encode(File.ReadAllText(text), addSpecialTokens: false);
            int chunk = Math.Min(128, ids.Length / 4);
            if (chunk >= 8) return Enumerable.Range(0, 4).Select(i => ids[(i * chunk)..((i + 1) * chunk)]).ToArray();
        }
        var rng = new Random(18);
        return Enumerable.Range(0, 4).Select(_ => Enumerable.Range(0, 256).Select(_ => rng.Next(vocab)).ToArray()).ToArray();
    }

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
