using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.AI.Sampling;
using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;
using PagedAttention.Text.Tokenization;
using Xunit.Abstractions;

namespace PagedAttention.Tests.Models;

/// <summary>
/// Int8 / Int4 weights quantized at load vs the unquantized (bf16 weights, float32 compute) default model, on a fixed
/// prompt set: teacher-forced top-1 agreement over prompt + reference continuation, and how many prompts keep an
/// identical greedy continuation for 32 tokens. The numbers are printed (docs/benchmarks.md quotes them).
/// </summary>
[Collection("QuantizedKernels")]
public sealed class QuantizedModelAccuracyTests(ITestOutputHelper output)
{
    internal static readonly int Continuation = int.TryParse(Environment.GetEnvironmentVariable("PAGEDATTENTION_ACCURACY_CONTINUATION"), out int c) ? c : 200;
    internal const int Greedy = 32;

    /// <summary>
    /// Sixteen fixed prompts in the style of the training text (Brown corpus) and one chat prompt, from
    /// Data/accuracy-prompts.json (bench/LlamaSharpPeer's agreement case reads the same file for llama.cpp).
    /// </summary>
    internal static readonly string[] Prompts = LoadPrompts();

    private static string[] LoadPrompts()
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "accuracy-prompts.json")));
        return doc.RootElement.GetProperty("prompts").EnumerateArray().Select(e => e.GetString()!).ToArray();
    }

    private static string ModelDir()
    {
        // Optional override (measurement only, e.g. the previous default model from git): PAGEDATTENTION_ACCURACY_MODEL.
        string? overrideDir = Environment.GetEnvironmentVariable("PAGEDATTENTION_ACCURACY_MODEL");
        if (!string.IsNullOrEmpty(overrideDir)) return overrideDir;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", "default");
            if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
        }
        throw new DirectoryNotFoundException("models/default not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Feeds one sequence a token at a time and returns each step's logits.</summary>
    internal sealed class Stepper : IDisposable
    {
        private readonly LlamaModel _model;
        private readonly CpuKvCache _cache;
        private readonly ForwardBatch _batch = new(1, 1, 16);
        private int _pos;

        public Stepper(LlamaModel model)
        {
            _model = model;
            _cache = model.CreateKvCache(numBlocks: 16, blockSize: 16);
            for (int b = 0; b < 16; b++) _batch.BlockTables[b] = b;
            Logits = new float[model.Config.VocabSize];
        }

        public float[] Logits { get; }

        public void Reset() => _pos = 0;

        public int Feed(int token)
        {
            _batch.NumSeqs = 1;
            _batch.NumTokens = 1;
            _batch.QueryStarts[0] = 0;
            _batch.QueryStarts[1] = 1;
            _batch.ContextLens[0] = _pos + 1;
            _batch.TokenIds[0] = token;
            _batch.Positions[0] = _pos;
            _batch.SlotMapping[0] = _pos;
            _model.Forward(_batch, _cache, Logits);
            _pos++;
            return ArgMax(Logits);
        }

        public void Dispose() => _cache.Dispose();
    }

    internal static int ArgMax(float[] v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /// <summary>KL(p || q) in nats of the softmaxes of two logit vectors.</summary>
    internal static double Kl(float[] p, float[] q)
    {
        double mp = double.MinValue, mq = double.MinValue;
        for (int i = 0; i < p.Length; i++) { mp = Math.Max(mp, p[i]); mq = Math.Max(mq, q[i]); }
        double zp = 0, zq = 0;
        for (int i = 0; i < p.Length; i++) { zp += Math.Exp(p[i] - mp); zq += Math.Exp(q[i] - mq); }
        double lzp = Math.Log(zp) + mp, lzq = Math.Log(zq) + mq, kl = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double lp = p[i] - lzp;
            kl += Math.Exp(lp) * (lp - (q[i] - lzq));
        }
        return kl;
    }

    /// <summary>(top-1 agreements, positions, prompts whose first <see cref="Greedy"/> greedy tokens are identical, mean KL).</summary>
    internal static (int Agree, int Positions, int SameGreedy, double MeanKl) Compare(LlamaModel reference, LlamaModel quantized, Tokenizer tok)
    {
        double klSum = 0;
        using var a = new Stepper(reference);
        using var b = new Stepper(quantized);
        int agree = 0, positions = 0, same = 0;
        foreach (string p in Prompts)
        {
            int[] ids = tok.Encode(p);
            // Reference: prompt, then its greedy continuation; the quantized model is teacher-forced along it.
            a.Reset();
            b.Reset();
            var refNext = new List<int>();
            var qNext = new List<int>();
            int next = 0;
            foreach (int t in ids) { next = a.Feed(t); qNext.Add(b.Feed(t)); refNext.Add(next); klSum += Kl(a.Logits, b.Logits); }
            for (int i = 0; i < Continuation; i++)
            {
                int t = next;
                next = a.Feed(t);
                refNext.Add(next);
                qNext.Add(b.Feed(t));
                klSum += Kl(a.Logits, b.Logits);
            }
            for (int i = 0; i < refNext.Count; i++) { positions++; if (refNext[i] == qNext[i]) agree++; }
            // Free-running greedy: identical continuations for Greedy tokens iff teacher-forced agreement held over them.
            bool identical = true;
            for (int i = ids.Length - 1; i < ids.Length - 1 + Greedy; i++) identical &= refNext[i] == qNext[i];
            if (identical) same++;
        }
        return (agree, positions, same, klSum / positions);
    }

    // The issue's bars: Int8 >= 99 % top-1 with most prompts identical for 32 tokens, Int4 >= 97 % top-1. Measured on
    // the current default model (run6-words) along 200-token continuations (3,478 positions; docs/cpu-kernels.md):
    // Int8 99.71 % 14/16, Int8 LM head 99.71 % 13/16, Int4 (groups of 32, searched scales) 97.33 % 8/16, FP8 99.25 %
    // 11/16. Along 48 tokens (1,046 positions, the default until 2026-12-04) Int4 measured 96.65 %: top-1 over ~1,000
    // positions moves by a few near-ties (llama.cpp's Q4_0 on the same model: 97.23 % at 48, 98.07 % at 200, with a
    // higher KL than Int4's at both), so the longer continuation is the measurement. FP8 E4M3 is a scale per row with
    // 3 mantissa bits (up to 6 % error per weight against Int8's ~0.4 % of the row maximum). PAGEDATTENTION_ACCURACY_MODEL
    // / _CONTINUATION measure another checkpoint or another length (the bounds are for the default model at 200 tokens).
    [Theory]
    [InlineData(WeightQuantization.Int8, WeightQuantization.None, 0.99, 12)]
    [InlineData(WeightQuantization.Int8, WeightQuantization.Int8, 0.985, 11)]
    [InlineData(WeightQuantization.Int4, WeightQuantization.None, 0.97, 6)]
    [InlineData(WeightQuantization.Fp8, WeightQuantization.None, 0.98, 9)]
    public void QuantizedModelAgreesWithFloat(WeightQuantization q, WeightQuantization lmHead, double minTop1, int minSameGreedy)
    {
        string dir = ModelDir();
        var tok = Tokenizer.FromFile(dir);
        using var reference = LlamaModel.Load(dir);
        var opts = new EngineOptions { WeightQuantization = q, LmHeadQuantization = lmHead };
        // Measurement only: PAGEDATTENTION_ACCURACY_INT8_MATRICES=down_proj,v_proj (name fragments) keeps those linear
        // weights Int8 in the Int4 run, to see which matrices Int4's error comes from (docs/cpu-kernels.md).
        string[] int8Names = q == WeightQuantization.Int4
            ? (Environment.GetEnvironmentVariable("PAGEDATTENTION_ACCURACY_INT8_MATRICES") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
            : [];
        if (int8Names.Length > 0) LlamaModel.LinearFormatOverride = (name, t) => int8Names.Any(name.Contains) ? DType.Int8 : t;
        LlamaModel quantized;
        try
        {
            quantized = LlamaModel.Load(dir, EngineLoader.LayerFormat(opts), EngineLoader.LmHeadFormat(opts));
        }
        finally
        {
            LlamaModel.LinearFormatOverride = null;
        }

        using var quantizedModel = quantized;
        if (int8Names.Length == 0) Assert.Equal(q switch { WeightQuantization.Int8 => DType.Int8, WeightQuantization.Fp8 => DType.F8E4M3, _ => DType.Int4 }, quantized.LayerDType);
        Assert.Equal(lmHead == WeightQuantization.Int8 ? DType.Int8 : DType.BF16, quantized.LmHeadDType);
        var (agree, positions, same, kl) = Compare(reference, quantized, tok);
        double top1 = (double)agree / positions;
        output.WriteLine($"{q} (LM head {lmHead}{(int8Names.Length > 0 ? $", Int8 for {string.Join(',', int8Names)}" : "")}): teacher-forced top-1 agreement {agree}/{positions} = {top1:P2}; identical {Greedy}-token greedy continuations {same}/{Prompts.Length}; mean KL {kl:F5} nats");
        Assert.True(top1 >= minTop1, $"{q}: top-1 agreement {top1:P2} < {minTop1:P0}");
        Assert.True(same >= minSameGreedy, $"{q}: {same}/{Prompts.Length} identical greedy continuations < {minSameGreedy}");
    }

    [Fact]
    public async Task EngineGeneratesWithQuantizedWeights()
    {
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir(), NumKvBlocks = 32, WeightQuantization = WeightQuantization.Int8 });
        var tok = Tokenizer.FromFile(ModelDir());
        int[] prompt = tok.Encode(Prompts[0]);
        var got = new List<int>();
        await foreach (var o in engine.GenerateAsync(prompt, new SamplingParams { Temperature = 0, MaxTokens = 16, IgnoreEos = true }))
            got.Add(o.TokenId);
        Assert.Equal(16, got.Count);
        // The engine path gives the same tokens as stepping the quantized model directly (same kernels, batch-invariant).
        var opts = new EngineOptions { WeightQuantization = WeightQuantization.Int8 };
        using var m = LlamaModel.Load(ModelDir(), EngineLoader.LayerFormat(opts), EngineLoader.LmHeadFormat(opts));
        using var s = new Stepper(m);
        int next = 0;
        foreach (int t in prompt) next = s.Feed(t);
        var direct = new List<int> { next };
        while (direct.Count < 16) direct.Add(next = s.Feed(next));
        Assert.Equal(direct, got);
    }

    [Fact]
    public async Task CudaWithQuantizationIsRejected()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() =>
            LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir(), Device = "cuda", WeightQuantization = WeightQuantization.Int4 }));
        Assert.Contains("CPU-only", e.Message);
    }

    [Fact]
    public async Task CudaAcceptsFp8LayersButNotAnFp8LmHead()
    {
        // Options validation passes Fp8 on CUDA (W8A8); without a GPU the load then fails for the missing CUDA only.
        new EngineOptions { ModelPath = ModelDir(), Device = "cuda", WeightQuantization = WeightQuantization.Fp8 }.Validate();
        Assert.Contains("Int8 is CPU-only", Assert.Throws<ArgumentException>(
            new EngineOptions { ModelPath = ModelDir(), Device = "cuda", WeightQuantization = WeightQuantization.Int8 }.Validate).Message);
        var head = await Assert.ThrowsAsync<ArgumentException>(() =>
            LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir(), WeightQuantization = WeightQuantization.Fp8, LmHeadQuantization = WeightQuantization.Fp8 }));
        Assert.Contains("LmHeadQuantization Fp8 is not supported", head.Message);
    }

    [Fact]
    public void PreQuantizedCheckpointIsRejectedNamingTheFormat()
    {
        string tmp = Path.Combine(Path.GetTempPath(), "pa-awq-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(tmp);
        try
        {
            string config = File.ReadAllText(Path.Combine(ModelDir(), "config.json")).TrimEnd().TrimEnd('}') +
                ", \"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 128}}";
            File.WriteAllText(Path.Combine(tmp, "config.json"), config);
            File.Copy(Path.Combine(ModelDir(), "model.safetensors"), Path.Combine(tmp, "model.safetensors"));
            var e = Assert.Throws<ModelLoadException>(() => LlamaModel.Load(tmp));
            Assert.Contains("'awq'", e.Message);
            Assert.Contains("4-bit", e.Message);
        }
        finally { Directory.Delete(tmp, recursive: true); }
    }
}
