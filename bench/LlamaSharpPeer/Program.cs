using System.Diagnostics;
using LLama;
using LLama.Batched;
using LLama.Common;
using LLama.Native;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;
using PagedAttention.Text.Tokenization;

// LLamaSharp (llama.cpp) and this engine in one process, on the same weights (a GGUF written by tools/gguf/hf_to_gguf.py
// from the same checkpoint) and the same token ids, greedy, same thread count, interleaved rounds with per-round ratios.
// Usage (docs/benchmarks.md, "CPU peer: LLamaSharp"):
//   dotnet run -c Release --project bench/LlamaSharpPeer -- --model DIR --gguf FILE --format bf16|q8_0|q4_0
//       [--threads N] [--rounds N] [--cases check,decode,prefill,agents,agents-nofork] [--decode-tokens 64] [--prefill 512]
//       [--agents 16] [--preamble 1024] [--suffix 16] [--agent-tokens 32] [--ref-gguf BF16_FILE]
// --ref-gguf: in the check case, also compare each side's quantized tokens with its own unquantized ones; the
// agreement case (needs it) measures llama.cpp's quantized GGUF against it, teacher-forced, like the engine's accuracy test.
// --format picks the engine's weights to match the GGUF: bf16 = the checkpoint's bf16; q8_0 = Int8 layers and LM head;
// q4_0 = Int4 layers and an Int8 LM head (the converter writes Q4_0 files with a Q8_0 output tensor).
string model = Arg("--model", "models/default");
string gguf = Arg("--gguf", "");
string refGguf = Arg("--ref-gguf", "");
string format = Arg("--format", "bf16");
int threads = int.Parse(Arg("--threads", "2"));
int rounds = int.Parse(Arg("--rounds", "5"));
var cases = Arg("--cases", "check,decode,prefill,agents,agents-nofork").Split(',');
int decodeTokens = int.Parse(Arg("--decode-tokens", "64"));
int prefillLen = int.Parse(Arg("--prefill", "512"));
int agents = int.Parse(Arg("--agents", "16"));
int preambleLen = int.Parse(Arg("--preamble", "1024"));
int suffixLen = int.Parse(Arg("--suffix", "16"));
int agentTokens = int.Parse(Arg("--agent-tokens", "32"));
if (gguf.Length == 0 || !File.Exists(gguf)) { Console.Error.WriteLine("--gguf FILE is required (tools/gguf/hf_to_gguf.py writes it)"); return 2; }

// The engine's pool reads its size once, when first used.
Environment.SetEnvironmentVariable("PAGEDATTENTION_CPU_THREADS", threads.ToString());
var (quant, head) = format switch
{
    "bf16" => (WeightQuantization.None, WeightQuantization.None),
    "q8_0" => (WeightQuantization.Int8, WeightQuantization.Int8),
    "q4_0" => (WeightQuantization.Int4, WeightQuantization.Int8),
    _ => throw new ArgumentException($"--format must be bf16, q8_0 or q4_0, got {format}"),
};

NativeLibraryConfig.All.WithLogCallback((level, message) => { });
int ctxLen = Math.Max(agents * (preambleLen + suffixLen + agentTokens) + 256, prefillLen + decodeTokens + 256);
var mp = new ModelParams(gguf)
{
    ContextSize = (uint)ctxLen,
    Threads = threads,
    BatchThreads = threads,
    BatchSize = 2048,
    UBatchSize = 512,
    SeqMax = (uint)(agents + 1),
    KVUnified = true,
    GpuLayerCount = 0,
};
Console.WriteLine($"# LlamaSharpPeer {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z  .NET {Environment.Version}  {Environment.ProcessorCount} logical CPUs  threads {threads}  format {format}");
Console.WriteLine($"model {model}  gguf {gguf}  engine weights {quant} (LM head {head})  load average {LoadAverage()}");
using var weights = LLamaWeights.LoadFromFile(mp);
await using var engine = await LlmEngine.LoadAsync(new EngineOptions
{
    ModelPath = model,
    WeightQuantization = quant,
    LmHeadQuantization = head,
    MaxNumSeqs = Math.Max(agents, 1),
    MaxNumBatchedTokens = 2048,
    EnablePrefixCaching = true,
    KvCacheBytes = 1L << 30,
}).ConfigureAwait(false);
await using var engineNoCache = await LlmEngine.LoadAsync(new EngineOptions
{
    ModelPath = model,
    WeightQuantization = quant,
    LmHeadQuantization = head,
    MaxNumSeqs = 4,
    MaxNumBatchedTokens = 2048,
    EnablePrefixCaching = false,
    NumKvBlocks = (prefillLen + decodeTokens) / 16 + 8,
}).ConfigureAwait(false);
int vocab = engine.Model.Config.VocabSize;
var rng = new Random(42);
int[] RandomIds(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(16, vocab)).ToArray();

if (cases.Contains("check"))
{
    // Greedy tokens of both on three real prompts (the default model's tokenizer when there is one).
    string tokDir = File.Exists(Path.Combine(model, "tokenizer.json")) ? model : "";
    var prompts = new[] { "The jury said", "In the morning, the old man", "The United States government has" };
    Console.WriteLine($"\n## Greedy tokens, engine vs llama.cpp ({decodeTokens} tokens per prompt)\n");
    using var executor = new BatchedExecutor(weights, mp);
    foreach (string p in prompts)
    {
        int[] ids = tokDir.Length > 0 ? Tokenizer.FromFile(tokDir).Encode(p) : RandomIds(8);
        var ours = await EngineGreedy(engineNoCache, ids, decodeTokens);
        var theirs = await LlamaGreedy(executor, ids, decodeTokens);
        int same = 0;
        while (same < ours.Count && same < theirs.Count && ours[same] == theirs[same]) same++;
        Console.WriteLine($"- \"{p}\": identical for the first {same}/{decodeTokens} tokens{(same < decodeTokens ? $" (then engine {ours[same]}, llama.cpp {theirs[same]})" : "")}");
        if (refGguf.Length > 0)
        {
            // Each side's quantized tokens against its own unquantized run (bf16 GGUF / the engine without quantization).
            var mpRef = new ModelParams(refGguf) { ContextSize = 1024, Threads = threads, BatchThreads = threads, GpuLayerCount = 0 };
            using var refWeights = LLamaWeights.LoadFromFile(mpRef);
            using var refExecutor = new BatchedExecutor(refWeights, mpRef);
            var theirsRef = await LlamaGreedy(refExecutor, ids, decodeTokens);
            await using var engineRef = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = model, NumKvBlocks = decodeTokens / 16 + 8, EnablePrefixCaching = false });
            var oursRef = await EngineGreedy(engineRef, ids, decodeTokens);
            Console.WriteLine($"  - vs unquantized: engine {quant} keeps {Prefix(ours, oursRef)}/{decodeTokens} of the engine's bf16 tokens, llama.cpp {format} keeps {Prefix(theirs, theirsRef)}/{decodeTokens} of llama.cpp's bf16 tokens");
        }
    }
}

if (cases.Contains("agreement"))
{
    // The Int4 bar (>= 97 % teacher-forced top-1) asked of llama.cpp's own 4-bit format: the quantized GGUF
    // teacher-forced along the BF16 GGUF's greedy continuation of each accuracy prompt, exactly as
    // tests/PagedAttention.Tests/Models/QuantizedModelAccuracyTests measures the engine's Int8/Int4 against its bf16.
    if (refGguf.Length == 0) throw new ArgumentException("--cases agreement needs --ref-gguf (the BF16 GGUF of the same checkpoint)");
    string promptsFile = Arg("--prompts", Path.Combine("tests", "PagedAttention.Tests", "Data", "accuracy-prompts.json"));
    using var promptsDoc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(promptsFile));
    var accuracyPrompts = promptsDoc.RootElement.GetProperty("prompts").EnumerateArray().Select(e => e.GetString()!).ToArray();
    int continuation = int.Parse(Arg("--continuation", "48")), greedy = 32;
    var tokenizer = Tokenizer.FromFile(model);
    var mpRef = new ModelParams(refGguf) { ContextSize = 1024, Threads = threads, BatchThreads = threads, GpuLayerCount = 0 };
    using var refWeights = LLamaWeights.LoadFromFile(mpRef);
    using var refEx = new BatchedExecutor(refWeights, mpRef);
    using var qEx = new BatchedExecutor(weights, mp);
    int agree = 0, positions = 0, same = 0;
    double klSum = 0;
    foreach (string p in accuracyPrompts)
    {
        int[] ids = tokenizer.Encode(p);
        using var a = refEx.Create();
        using var b = qEx.Create();
        var refNext = new List<int>();
        var qNext = new List<int>();
        async Task<int> Feed(Conversation a, Conversation b, int t)
        {
            a.Prompt((LLamaToken)t);
            b.Prompt((LLamaToken)t);
            await refEx.Infer();
            await qEx.Infer();
            float[] la = a.Sample().ToArray(), lb = b.Sample().ToArray();
            klSum += Kl(la, lb);
            refNext.Add(ArgMax(la));
            qNext.Add(ArgMax(lb));
            return refNext[^1];
        }
        int next = 0;
        foreach (int t in ids) next = await Feed(a, b, t);
        for (int i = 0; i < continuation; i++) next = await Feed(a, b, next);
        for (int i = 0; i < refNext.Count; i++) { positions++; if (refNext[i] == qNext[i]) agree++; }
        bool identical = true;
        for (int i = ids.Length - 1; i < ids.Length - 1 + greedy; i++) identical &= refNext[i] == qNext[i];
        if (identical) same++;
    }
    Console.WriteLine($"\n## llama.cpp {format} vs its own BF16 ({Path.GetFileName(gguf)} vs {Path.GetFileName(refGguf)}), {accuracyPrompts.Length} prompts + {continuation}-token BF16 continuations\n");
    Console.WriteLine($"teacher-forced top-1 agreement {agree}/{positions} = {(double)agree / positions:P2}; identical {greedy}-token greedy continuations {same}/{accuracyPrompts.Length}; mean KL {klSum / positions:F5} nats");
}


static int Prefix(List<int> a, List<int> b)
{
    int n = 0;
    while (n < a.Count && n < b.Count && a[n] == b[n]) n++;
    return n;
}

var table = new List<string>();
var results = new List<(string Case, double Engine, double Peer, double Ratio)>();
for (int round = 0; round < rounds; round++)
{
    bool engineFirst = round % 2 == 0;
    if (cases.Contains("decode"))
    {
        int[] prompt = RandomIds(32);
        double e = 0, l = 0;
        for (int side = 0; side < 2; side++)
        {
            if ((side == 0) == engineFirst) e = await EngineDecode(engineNoCache, prompt, decodeTokens);
            else { using var ex = new BatchedExecutor(weights, mp); l = await LlamaDecode(ex, prompt, decodeTokens); }
        }
        Row("single-stream decode (tok/s)", round, e, l);
    }
    if (cases.Contains("prefill"))
    {
        int[] prompt = RandomIds(prefillLen);
        double e = 0, l = 0;
        for (int side = 0; side < 2; side++)
        {
            if ((side == 0) == engineFirst) e = prefillLen / await EnginePrefill(engineNoCache, prompt);
            else { using var ex = new BatchedExecutor(weights, mp); l = prefillLen / await LlamaPrefill(ex, prompt); }
        }
        Row($"prefill {prefillLen} tokens (tok/s)", round, e, l);
    }
    if (cases.Contains("agents") || cases.Contains("agents-nofork"))
    {
        // A fresh preamble each round, so neither side finds the previous round's in a cache.
        int[] preamble = RandomIds(preambleLen);
        var suffixes = Enumerable.Range(0, agents).Select(_ => RandomIds(suffixLen)).ToArray();
        double e = 0, fork = 0, noFork = 0;
        for (int side = 0; side < 2; side++)
        {
            if ((side == 0) == engineFirst) e = await EngineAgents(engine, preamble, suffixes, agentTokens);
            else
            {
                if (cases.Contains("agents"))
                    using (var ex = new BatchedExecutor(weights, mp)) fork = await LlamaAgentsFork(ex, preamble, suffixes, agentTokens);
                if (cases.Contains("agents-nofork"))
                    using (var ex = new BatchedExecutor(weights, mp)) noFork = await LlamaAgentsNoFork(ex, preamble, suffixes, agentTokens);
            }
        }
        if (cases.Contains("agents"))
            Row($"{agents} requests, {preambleLen}-token shared preamble, {agentTokens} tokens each (s, lower is better) vs BatchedExecutor + Fork()", round, fork, e);
        if (cases.Contains("agents-nofork"))
            Row($"{agents} requests, {preambleLen}-token shared preamble, {agentTokens} tokens each (s) vs BatchedExecutor, each prompted in full", round, noFork, e);
    }
}

Console.WriteLine($"\n## Per-round results (threads {threads}, format {format}, load average at the end {LoadAverage()})\n");
Console.WriteLine("| case | round | engine | llama.cpp (LLamaSharp) | engine / llama.cpp speed |\n| --- | --- | --- | --- | --- |");
foreach (var r in table) Console.WriteLine(r);
Console.WriteLine("\n| case | median engine | median llama.cpp | median per-round speed ratio (min–max) |\n| --- | --- | --- | --- |");
foreach (var g in results.GroupBy(r => r.Case))
{
    var ratios = g.Select(r => r.Ratio).ToArray();
    Console.WriteLine($"| {g.Key} | {Median(g.Select(r => r.Engine).ToArray()):F2} | {Median(g.Select(r => r.Peer).ToArray()):F2} | **{Median(ratios):F2}x** ({ratios.Min():F2}–{ratios.Max():F2}) |");
}
return 0;

// Speed ratio: tok/s rows are engine / peer; time rows (the agents case) are peer seconds / engine seconds.
void Row(string name, int round, double a, double b)
{
    bool time = name.Contains("(s");
    double engineValue = time ? b : a, peerValue = time ? a : b;
    double ratio = time ? a / b : a / b;
    results.Add((name, engineValue, peerValue, ratio));
    table.Add($"| {name} | {round + 1} | {engineValue:F2} | {peerValue:F2} | {ratio:F2}x |");
}

string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

static double Median(double[] v)
{
    var t = (double[])v.Clone();
    Array.Sort(t);
    return t.Length % 2 == 1 ? t[t.Length / 2] : (t[t.Length / 2 - 1] + t[t.Length / 2]) / 2;
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

static int ArgMax(ReadOnlySpan<float> v)
{
    int best = 0;
    for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
    return best;
}

static double Kl(float[] p, float[] q)
{
    // KL(p || q) in nats of the softmaxes of two logit vectors (as QuantizedModelAccuracyTests.Kl).
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

static async Task<List<int>> EngineGreedy(LlmEngine e, int[] prompt, int n)
{
    var got = new List<int>();
    await foreach (var o in e.GenerateAsync(prompt, new SamplingParams { Temperature = 0, MaxTokens = n, IgnoreEos = true })) got.Add(o.TokenId);
    return got;
}

static async Task<List<int>> LlamaGreedy(BatchedExecutor ex, int[] prompt, int n)
{
    using var conv = ex.Create();
    conv.Prompt(prompt.Select(t => (LLamaToken)t).ToArray());
    var got = new List<int>();
    for (int i = 0; i < n; i++)
    {
        await ex.Infer();
        int t = ArgMax(conv.Sample());
        got.Add(t);
        if (i + 1 < n) conv.Prompt((LLamaToken)t);
    }
    return got;
}

// Decode tok/s after the first token (the prompt's prefill excluded), greedy.
static async Task<double> EngineDecode(LlmEngine e, int[] prompt, int n)
{
    int k = 0;
    long start = 0;
    await foreach (var o in e.GenerateAsync(prompt, new SamplingParams { Temperature = 0, MaxTokens = n + 1, IgnoreEos = true }))
        if (k++ == 0) start = Stopwatch.GetTimestamp();
    return n / Stopwatch.GetElapsedTime(start).TotalSeconds;
}

static async Task<double> LlamaDecode(BatchedExecutor ex, int[] prompt, int n)
{
    using var conv = ex.Create();
    conv.Prompt(prompt.Select(t => (LLamaToken)t).ToArray());
    await ex.Infer();
    int t = ArgMax(conv.Sample());
    long start = Stopwatch.GetTimestamp();
    for (int i = 0; i < n; i++)
    {
        conv.Prompt((LLamaToken)t);
        await ex.Infer();
        t = ArgMax(conv.Sample());
    }
    return n / Stopwatch.GetElapsedTime(start).TotalSeconds;
}

// Seconds from submitting the prompt to its first token's logits.
static async Task<double> EnginePrefill(LlmEngine e, int[] prompt)
{
    long start = Stopwatch.GetTimestamp();
    await foreach (var _ in e.GenerateAsync(prompt, new SamplingParams { Temperature = 0, MaxTokens = 1, IgnoreEos = true })) { }
    return Stopwatch.GetElapsedTime(start).TotalSeconds;
}

static async Task<double> LlamaPrefill(BatchedExecutor ex, int[] prompt)
{
    using var conv = ex.Create();
    long start = Stopwatch.GetTimestamp();
    conv.Prompt(prompt.Select(t => (LLamaToken)t).ToArray());
    await ex.Infer();
    ArgMax(conv.Sample());
    return Stopwatch.GetElapsedTime(start).TotalSeconds;
}

// Wall seconds for all requests to finish: each prompt = preamble + its suffix, then greedy tokens.
static async Task<double> EngineAgents(LlmEngine e, int[] preamble, int[][] suffixes, int n)
{
    long start = Stopwatch.GetTimestamp();
    await Task.WhenAll(suffixes.Select(async s =>
    {
        await foreach (var _ in e.GenerateAsync(preamble.Concat(s).ToArray(), new SamplingParams { Temperature = 0, MaxTokens = n, IgnoreEos = true })) { }
    }));
    return Stopwatch.GetElapsedTime(start).TotalSeconds;
}

// LLamaSharp's best way: prompt the preamble once, Fork() it per request, prompt each suffix, decode all in one batch.
static async Task<double> LlamaAgentsFork(BatchedExecutor ex, int[] preamble, int[][] suffixes, int n)
{
    long start = Stopwatch.GetTimestamp();
    using var root = ex.Create();
    root.Prompt(preamble.Select(t => (LLamaToken)t).ToArray());
    await ex.Infer();
    var convs = suffixes.Select(s =>
    {
        var c = root.Fork();
        c.Prompt(s.Select(t => (LLamaToken)t).ToArray());
        return c;
    }).ToList();
    await ex.Infer();
    var next = convs.Select(c => ArgMax(c.Sample())).ToArray();
    await DecodeAll(ex, convs, next, n);
    return Stopwatch.GetElapsedTime(start).TotalSeconds;
}

// The usual way without forking: one conversation per request, each prompted with its full prompt (one decode call
// each: 16 full prompts do not fit one batch), then all decoded in one batch.
static async Task<double> LlamaAgentsNoFork(BatchedExecutor ex, int[] preamble, int[][] suffixes, int n)
{
    long start = Stopwatch.GetTimestamp();
    var convs = new List<Conversation>();
    var next = new int[suffixes.Length];
    for (int i = 0; i < suffixes.Length; i++)
    {
        var c = ex.Create();
        c.Prompt(preamble.Concat(suffixes[i]).Select(t => (LLamaToken)t).ToArray());
        await ex.Infer();
        next[i] = ArgMax(c.Sample());
        convs.Add(c);
    }
    await DecodeAll(ex, convs, next, n);
    return Stopwatch.GetElapsedTime(start).TotalSeconds;
}

// Greedy: n tokens per conversation in all (the first one is already sampled in next[]).
static async Task DecodeAll(BatchedExecutor ex, List<Conversation> convs, int[] next, int n)
{
    for (int i = 1; i < n; i++)
    {
        for (int c = 0; c < convs.Count; c++) convs[c].Prompt((LLamaToken)next[c]);
        await ex.Infer();
        for (int c = 0; c < convs.Count; c++) next[c] = ArgMax(convs[c].Sample());
    }
    foreach (var c in convs) c.Dispose();
}
