// GPU/CPU throughput and serving benchmark (issue 8). See docs/gpu-benchmarks.md.
//   offline: every request submitted at once through LlmEngine.GenerateAsync (like vLLM's benchmark_throughput).
//   serving: Poisson arrivals at each --rate, streamed through GenerateAsync (token ids) or the IChatClient (--api chat).
// Workloads are seeded; --write-requests saves the exact request list for the Python peers (bench/peers).
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PagedAttention.AI.Chat.StructuredOutput;
using PagedAttention.AI.Constraints;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;
using PagedAttention.AI.Scheduling;
using PagedAttention.Kernels;
using PagedAttention.Kernels.Cuda;
using PagedAttention.AI.Models;
using PagedAttention.Bench.Throughput;

var opt = Options.Parse(args);
if (opt.Help) { Console.WriteLine(Options.Usage); return 0; }

var workloads = new List<Workload>();
ModelConfig? config = opt.Model is null ? null : ModelConfig.Load(opt.Model);
if (opt.Requests is not null) workloads.AddRange(opt.Requests.Split(',').Select(Workload.Load));
else
{
    int vocab = opt.Vocab ?? config?.VocabSize ?? throw new ArgumentException("--model or --vocab is needed to create a workload.");
    int maxLen = opt.MaxModelLen ?? config?.MaxPositionEmbeddings ?? 4096;
    workloads.Add(Workload.Create(opt.Workload, opt.NumRequests ?? DefaultCount(opt.Workload), opt.Seed, vocab, maxLen, opt.InputLen, opt.OutputLen,
        preambles: opt.Preambles, rounds: opt.Rounds, preambleLen: opt.PreambleLen, questionLen: opt.QuestionLen, answerLen: opt.AnswerLen));
}
foreach (var w in workloads)
{
    if (opt.NumRequests is int take && take < w.Requests.Count) w.Requests = w.Requests.Take(take).ToList();
    if (opt.Mode == "serving" && w.Requests.Any(r => r.Round is not null)) { Console.Error.WriteLine($"workload {w.Name} arrives in rounds: run it with --mode offline."); return 2; }
    Console.WriteLine($"workload {w.Name}: {w.Requests.Count} requests, mean input {w.Requests.Average(r => r.Prompt.Length):F1}, mean output {w.Requests.Average(r => r.OutputLen):F1}, seed {w.Seed}");
}
if (opt.WriteRequests is not null)
{
    workloads[0].Save(opt.WriteRequests);
    Console.WriteLine($"wrote {opt.WriteRequests}");
    if (opt.Model is null) return 0;
}
if (opt.Model is null || config is null) { Console.Error.WriteLine("--model DIR is required to run."); return 2; }
foreach (var w in workloads)
    if (w.Requests.SelectMany(r => r.Prompt).Any(id => id >= config.VocabSize))
    { Console.Error.WriteLine($"workload {w.Name} was made for vocab {w.Vocab}; the model's vocab is {config.VocabSize}."); return 2; }

// The device's roofline (datasheet table or driver attributes) and its copy bandwidth, measured before the engine
// takes its share of the memory.
bool cuda = opt.Device == "cuda";
DevicePeaks? peaks = null;
double copyGBs = double.NaN;
if (cuda)
{
    using var dev = CudaDevice.Open(RuntimeSwitches.FromEnvironment());
    peaks = DevicePeaks.Of(dev);
    copyGBs = DevicePeaks.MeasureCopyGBs(dev);
    Console.WriteLine($"device {peaks.Name}: peak {peaks.BandwidthGBs / 1000:F2} TB/s, {peaks.Bf16Tflops:F0} bf16 / {peaks.Fp8Tflops:F0} fp8 TFLOP/s ({peaks.Source}); device copy measured {copyGBs / 1000:F2} TB/s ({copyGBs / peaks.BandwidthGBs:P0} of peak)");
}

// Roofline inputs: bf16 weights and KV on the GPU; the CPU path keeps the checkpoint's dtype.
int wBytes = cuda || IsHalf(opt.Model) ? 2 : 4;
// An FP8 KV cache (--kv-cache-dtype fp8, CUDA) stores one byte per element.
bool fp8Kv = cuda && opt.KvCacheDtype == KvCacheDtype.Fp8E4M3;
var (weightBytes, kvPerToken) = Roofline.Bytes(config, wBytes, cuda ? (fp8Kv ? 1 : 2) : 4);
var (linearFlops, attnFlops) = Roofline.Flops(config);
double linearPeakTflops = 0;
bool fp8Layers = cuda && opt.WeightQuantization == WeightQuantization.Fp8;
if (fp8Layers)
{
    // FP8 decoder layers: one byte per weight at the FP8 tensor-core peak; the LM head stays bf16 (2 bytes, bf16 peak).
    var (layerParams, lmParams) = Roofline.LinearParams(config);
    weightBytes = layerParams + 2 * lmParams;
    linearPeakTflops = (layerParams + lmParams) / (layerParams / peaks!.Fp8Tflops + lmParams / peaks.Bf16Tflops);
}
double bw = opt.BandwidthGBs ?? (cuda ? peaks!.BandwidthGBs : Roofline.MeasureHostCopyGBs());
string bwSource = opt.BandwidthGBs is not null ? "--bandwidth-gbs" : cuda ? peaks!.Source : "host copy measured in this run";
double peakTflops = cuda ? peaks!.Bf16Tflops : 0;
Roofline Roof(int batch, double meanCtx) => new()
{
    BandwidthGBs = bw, BandwidthSource = bwSource, PeakTflops = peakTflops, LinearPeakTflops = linearPeakTflops, WeightBytes = weightBytes, KvBytesPerToken = kvPerToken,
    LinearFlopsPerToken = linearFlops, AttentionFlopsPerContextToken = attnFlops, Batch = batch, MeanContext = meanCtx,
};
// On CUDA the engine sizes its KV cache from GpuMemoryUtilization (EngineOptions.KvCacheBytes is the CPU's); an explicit
// --kv-cache-gib there becomes that many bytes of bf16 (or FP8) blocks (NumKvBlocks), so a small cache can force preemption.
int? numKvBlocks = opt.KvBlocks;
if (numKvBlocks is null && cuda && opt.KvCacheGiBGiven)
{
    numKvBlocks = (int)Math.Max(1, GiB(opt.KvCacheGiB) / (kvPerToken * opt.BlockSize));
    Console.WriteLine($"--kv-cache-gib {opt.KvCacheGiB} on cuda: {numKvBlocks} KV blocks of {opt.BlockSize} tokens ({kvPerToken / 1024} KiB of KV per token; GpuMemoryUtilization does not size the cache)");
}

var result = new JsonObject
{
    ["tool"] = "bench/Throughput",
    ["command"] = "Throughput " + string.Join(' ', args),
    ["utc"] = DateTime.UtcNow.ToString("O"),
    ["machine"] = $"{Environment.MachineName}, {Environment.ProcessorCount} cores, .NET {Environment.Version}",
    ["model"] = opt.Model,
    ["device"] = opt.Device,
    ["prefix_cache"] = !opt.NoPrefixCache,
    ["api"] = opt.Api,
    ["roofline_inputs"] = new JsonObject { ["bandwidth_gbs"] = bw, ["source"] = bwSource, ["peak_bf16_tflops"] = peakTflops, ["device_copy_gbs"] = double.IsFinite(copyGBs) ? copyGBs : null, ["weight_bytes_per_step"] = weightBytes, ["kv_bytes_per_token"] = kvPerToken, ["linear_flops_per_token"] = linearFlops, ["attention_flops_per_context_token"] = attnFlops },
};
var allRuns = new JsonArray();
result["runs"] = allRuns;
// Engine configurations: the cross product of --preemption and --host-cache-gib, one engine each (loaded in turn in
// this process), every workload run on each. Without either option: one engine as configured.
var configs = (from mode in opt.Preemption ?? [null] from hostGiB in opt.HostCacheGiB ?? [null] select (Mode: mode, HostGiB: hostGiB)).ToList();
int k = 0;
Func<ITokenConstraint>? constraint = null;
foreach (var (mode, hostGiB) in configs)
{
    string label = string.Join(", ", new[] { mode is null ? null : $"preemption {mode}", hostGiB is null ? null : $"host cache {hostGiB.Value.ToString(CultureInfo.InvariantCulture)} GiB" }.Where(x => x is not null));
    if (label.Length == 0) label = "default";
    var engineOptions = new EngineOptions
    {
        ModelPath = opt.Model,
        Device = opt.Device,
        EnablePrefixCaching = !opt.NoPrefixCache,
        MaxNumSeqs = opt.MaxNumSeqs,
        MaxNumBatchedTokens = opt.MaxNumBatchedTokens,
        NumKvBlocks = numKvBlocks,
        KvCacheBytes = GiB(opt.KvCacheGiB),
        BlockSize = opt.BlockSize,
        MaxModelLen = opt.MaxModelLen,
        // Recompute is the engine without swap space (what it did before swap existed); swap and auto share --swap-space-gib.
        SwapSpaceBytes = mode == "recompute" ? 0 : GiB(opt.SwapSpaceGiB),
        HostCacheBytes = GiB(hostGiB ?? 0),
        PreemptionMode = mode switch { "swap" => PreemptionMode.Swap, "recompute" => PreemptionMode.Recompute, _ => PreemptionMode.Auto },
        WeightQuantization = opt.WeightQuantization,
        KvCacheDtype = opt.KvCacheDtype,
    };
    // CUDA-only options (EngineOptions.GpuMemoryUtilization, EnforceEager) are set by name so that this program also
    // builds against engines without them.
    SetIfPresent(engineOptions, "GpuMemoryUtilization", opt.GpuMemoryUtilization);
    if (opt.EnforceEager) SetIfPresent(engineOptions, "EnforceEager", true);
    var load = Stopwatch.StartNew();
    await using var engine = await LlmEngine.LoadAsync(engineOptions);
    double loadS = load.Elapsed.TotalSeconds;
    Console.WriteLine($"== {label}: loaded {opt.Model} on {opt.Device} in {loadS:F1} s; {engine.NumKvBlocks} KV blocks of {opt.BlockSize}; swap space {engineOptions.SwapSpaceBytes / (double)(1L << 30):F2} GiB, host cache {engineOptions.HostCacheBytes / (double)(1L << 30):F2} GiB; max seqs {opt.MaxNumSeqs}, max batched tokens {opt.MaxNumBatchedTokens}, prefix cache {(opt.NoPrefixCache ? "off" : "on")}");
    result["load_s"] ??= loadS;
    result["engine"] ??= new JsonObject { ["gpu_memory_utilization"] = opt.GpuMemoryUtilization, ["enforce_eager"] = opt.EnforceEager, ["max_num_seqs"] = opt.MaxNumSeqs, ["max_num_batched_tokens"] = opt.MaxNumBatchedTokens, ["kv_blocks"] = engine.NumKvBlocks, ["block_size"] = opt.BlockSize, ["weight_quantization"] = opt.WeightQuantization.ToString(), ["kv_cache_dtype"] = opt.KvCacheDtype.ToString() };
    var configJson = new JsonObject
    {
        ["label"] = label,
        ["preemption"] = mode ?? (engineOptions.SwapSpaceBytes > 0 ? "auto" : "recompute"),
        ["swap_space_bytes"] = engineOptions.SwapSpaceBytes,
        ["host_cache_bytes"] = engineOptions.HostCacheBytes,
        ["kv_blocks"] = engine.NumKvBlocks,
        ["kv_cache_bytes"] = (long)engine.NumKvBlocks * opt.BlockSize * kvPerToken,
        ["load_s"] = loadS,
    };

    var runner = new Runner(engine, opt);
    // --constrain SCHEMA.json: every request of a second pass is constrained to that JSON schema (compiled once over the
    // model's tokenizer, one matcher per sequence), to measure what the mask work costs the step loop.
    // Compiled once, over the first engine's tokenizer (the same model in every configuration).
    if (opt.Constrain is not null && constraint is null)
    {
        var tok = engine.Tokenizer ?? throw new ArgumentException("--constrain needs a tokenizer in the model folder.");
        var compileTime = Stopwatch.StartNew();
        var vocab = TokenVocabulary.FromTokenizer(tok, config.EosTokenIds);
        var grammar = CompiledGrammar.Create(Constraint.JsonSchema(File.ReadAllText(opt.Constrain)), vocab);
        string what = Path.GetFileName(opt.Constrain);
        constraint = () => new GrammarConstraint(grammar.CreateMatcher(), what);
        Console.WriteLine($"constraint: {opt.Constrain} compiled over {vocab.Size:N0} tokens in {compileTime.Elapsed.TotalMilliseconds:F0} ms (vocabulary trie included)");
    }
    await runner.WarmUpAsync(workloads[0]);
    if (constraint is not null) { runner.Constraint = constraint; await runner.WarmUpAsync(workloads[0]); runner.Constraint = null; }

    foreach (var workload in workloads)
    {
        var run = new JsonObject
        {
            ["config"] = configJson.DeepClone(),
            ["workload"] = workload.Name,
            ["workload_description"] = workload.Description,
            ["num_requests"] = workload.Requests.Count,
            ["seed"] = workload.Seed,
            ["mean_input_len"] = workload.Requests.Average(r => r.Prompt.Length),
            ["mean_output_len"] = workload.Requests.Average(r => r.OutputLen),
        };
        allRuns.Add(run);
        if (opt.Mode == "offline")
        {
            if (constraint is not null)
            {
                // Constrained vs unconstrained in one process, alternating rounds (A B A B ...), same requests, fresh salts.
                var ab = new JsonArray();
                run["constrained_ab"] = ab;
                // Each round: unconstrained with the workload's lengths (U), constrained (C), then unconstrained again
                // with each request's output length set to what C produced (U=): C's grammar may finish a request early,
                // which changes the batch's shape; U= runs the same shape, so C / U= is the cost of the mask work alone.
                double[] sum = new double[3];
                string[] names = ["unconstrained", "constrained", "unconstrained, C's lengths"];
                for (int round = 0; round < opt.AbRounds; round++)
                {
                    int[] lengths = [];
                    for (int c = 0; c < 3; c++)
                    {
                        runner.Constraint = c == 1 ? constraint : null;
                        var wl = c < 2 ? workload : new Workload { Name = workload.Name, Seed = workload.Seed, Requests = [.. workload.Requests.Select((q, i) => new BenchRequest { Prompt = q.Prompt, OutputLen = Math.Max(1, lengths[i]) })] };
                        var r = await runner.RunAsync(wl, rate: double.PositiveInfinity, salt: $"ab{k++}");
                        if (c == 1) lengths = r.OutputLengths;
                        sum[c] += r.OutputTokS;
                        var o = r.ToJson();
                        o["pass"] = names[c];
                        o["round"] = round;
                        o["stopped_by_grammar"] = r.GrammarStops;
                        ab.Add(o);
                        if (c == 1 && round == 0 && engine.Tokenizer is { } t)
                        {
                            string text = t.Decode(r.FirstOutput.ToArray(), skipSpecialTokens: false);
                            o["first_output"] = text;
                            Console.WriteLine($"  request 0, constrained: {(text.Length > 300 ? text[..300] + "..." : text)}");
                        }
                        double fwd = 1e3 * r.Metrics.ForwardSeconds / Math.Max(1, r.Metrics.Steps), host = 1e3 * (r.Metrics.BusySeconds - r.Metrics.ForwardSeconds) / Math.Max(1, r.Metrics.Steps);
                        Console.WriteLine($"[{label}] [{workload.Name}] round {round} {names[c],-27}: {r.Seconds:F2} s, {r.OutputTokS:F0} output tok/s, {r.OutputTokens} output tokens ({r.GrammarStops} requests stopped by the grammar), steps {r.Metrics.Steps} (forward {fwd:F2} ms, host {host:F2} ms per step), TPOT {r.Latency.Tpot}, failed {r.Failed}");
                    }
                }
                runner.Constraint = null;
                double ratio = sum[1] / sum[2], naive = sum[1] / sum[0];
                run["constrained_ratio_same_lengths"] = ratio;
                run["constrained_ratio_workload_lengths"] = naive;
                Console.WriteLine($"[{label}] [{workload.Name}] output tok/s over {opt.AbRounds} rounds: constrained / unconstrained with the same output lengths {ratio:F3}; / unconstrained with the workload's lengths {naive:F3}");
                if (opt.Output is not null) Save(opt.Output, result);
                continue;
            }
            var r0 = await runner.RunAsync(workload, rate: double.PositiveInfinity, salt: $"offline{k++}");
            int batch = Math.Min(workload.Requests.Count, opt.MaxNumSeqs);
            double meanCtx = workload.Requests.Average(q => q.Prompt.Length + q.OutputLen / 2.0);
            var roof = Roof(batch, meanCtx);
            double decodeTokS = r0.SteadyDecodeTokS;
            roof.PercentReached = 100 * (double.IsFinite(decodeTokS) ? decodeTokS : r0.OutputTokS) / roof.OutputTokS;
            var o0 = r0.ToJson();
            o0["roofline"] = JsonSerializer.SerializeToNode(roof);
            run["offline"] = o0;
            Console.WriteLine($"[{label}] [{workload.Name}] offline: {r0.Seconds:F2} s, {r0.RequestsPerS:F2} req/s, {r0.OutputTokS:F0} output tok/s, {r0.TotalTokS:F0} total tok/s; steady decode {decodeTokS:F0} tok/s at batch {batch}");
            Console.WriteLine($"  roofline at batch {batch}, mean context {meanCtx:F0}: memory {roof.MemoryMs:F3} ms/step, compute {roof.ComputeMs:F3} ms/step -> {roof.Bound}-bound, {roof.OutputTokS:F0} tok/s; reached {roof.PercentReached:F0}% of the larger bound");
            Console.WriteLine($"  TTFT {r0.Latency.Ttft}  TPOT {r0.Latency.Tpot}  ITL {r0.Latency.Itl}  E2E {r0.Latency.E2e} (ms); prefix hit rate {r0.Metrics.PrefixHitRate:P0}, steps {r0.Metrics.Steps} (forward {1e3 * r0.Metrics.ForwardSeconds / Math.Max(1, r0.Metrics.Steps):F2} ms, host {1e3 * (r0.Metrics.BusySeconds - r0.Metrics.ForwardSeconds) / Math.Max(1, r0.Metrics.Steps):F2} ms per step), failed {r0.Failed}");
            var m0 = r0.Metrics;
            Console.WriteLine($"  preemptions {m0.Preemptions} (recompute {m0.RecomputePreemptions}, swap out {m0.SwapOuts} / in {m0.SwapIns}, {(m0.SwapBytesOut + m0.SwapBytesIn) / (double)(1L << 30):F2} GiB moved in {m0.SwapSeconds:F2} s incl. the host tier, queued in {m0.SwapIssueSeconds:F2} s); prefix hit tokens {m0.PrefixHitTokens} of {m0.PrefixQueryTokens}; host-tier hit tokens {m0.HostTierHitTokens} ({(r0.InputTokens == 0 ? 0 : (double)m0.HostTierHitTokens / r0.InputTokens):P1} of {r0.InputTokens} prompt tokens; blocks out {m0.HostTierBlocksOut}, in {m0.HostTierBlocksIn})");
            if (r0.RoundTtftMs.Length > 0) Console.WriteLine($"  mean TTFT per round (ms): {string.Join(' ', r0.RoundTtftMs.Select(x => x.ToString("F0", CultureInfo.InvariantCulture)))}");
        }
        else
        {
            var runs = new JsonArray();
            run["serving"] = runs;
            foreach (double rate in opt.Rates)
            {
                var r = await runner.RunAsync(workload, rate, salt: $"serving{k++}");
                var o = r.ToJson();
                o["rate"] = double.IsInfinity(rate) ? "inf" : rate;
                runs.Add(o);
                Console.WriteLine($"[{label}] [{workload.Name}] rate {rate}: {r.Seconds:F2} s, {r.RequestsPerS:F2} req/s, {r.OutputTokS:F0} output tok/s; TTFT {r.Latency.Ttft}; TPOT {r.Latency.Tpot}; ITL {r.Latency.Itl}; E2E {r.Latency.E2e} (ms); prefix hit rate {r.Metrics.PrefixHitRate:P0}, preemptions {r.Metrics.Preemptions}, failed {r.Failed}");
                if (opt.Output is not null) Save(opt.Output, result);
            }
        }
        if (opt.Output is not null) Save(opt.Output, result);
    }
}
if (opt.Output is not null) Console.WriteLine($"wrote {opt.Output}");
return 0;

static long GiB(double g) => (long)(g * (1L << 30));

static int DefaultCount(string w) => w switch { "shared-prefix" => 64, "alpaca" => 1000, _ => 256 };

static bool IsHalf(string dir)
{
    try
    {
        var c = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")));
        string? d = (string?)(c?["torch_dtype"] ?? c?["dtype"]);
        return d is "bfloat16" or "float16";
    }
    catch (Exception) { return false; }
}

static void SetIfPresent(EngineOptions o, string name, object? value)
{
    if (value is null) return;
    var p = typeof(EngineOptions).GetProperty(name);
    if (p is null) { Console.WriteLine($"note: EngineOptions.{name} does not exist in this build; ignored"); return; }
    p.SetValue(o, Convert.ChangeType(value, p.PropertyType, CultureInfo.InvariantCulture));
}

static void Save(string path, JsonObject o)
{
    var dir = Path.GetDirectoryName(Path.GetFullPath(path));
    if (dir is not null) Directory.CreateDirectory(dir);
    File.WriteAllText(path, o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
}

/// <summary>Command-line options.</summary>
sealed class Options
{
    public const string Usage = """
        Throughput --model DIR [--device cpu|cuda] [--mode offline|serving]
                   [--workload sharegpt|alpaca|shared-prefix|fixed|agents-rounds] [--input-len 1024 --output-len 128]
                   [--num-requests N] [--rate R[,R...]|inf] [--seed S] [--no-prefix-cache] [--output results.json]
                   [--requests a.json[,b.json...]] [--write-requests workload.json] [--vocab V] [--api tokens|chat]
                   [--max-num-seqs 256] [--max-num-batched-tokens 8192] [--kv-blocks N | --kv-cache-gib G]
                   [--block-size 16] [--max-model-len L] [--bandwidth-gbs B]
                   [--gpu-memory-utilization 0.9] [--enforce-eager] [--weight-quantization none|int8|int4|fp8] [--kv-cache-dtype bf16|fp8]
                   [--logprobs-every N [--logprobs K]]
                   [--constrain schema.json [--ab-rounds 2]]
                   [--preemption recompute|swap|auto[,...]] [--swap-space-gib 4] [--host-cache-gib 0[,24...]]
                   [--preambles 32 --rounds 16 --preamble-len 4096 --question-len 64 --answer-len 64] (agents-rounds)
        --constrain: offline mode runs each workload unconstrained and constrained to the JSON schema in alternating
          rounds and prints the output tok/s ratio (the tokenizer must be in the model folder).
        --logprobs-every N: every Nth request (0, N, 2N, ...) asks for its top-K (default 5) logprobs.
        Without --model, --write-requests with --vocab only writes the request list.
        --preemption and --host-cache-gib take comma lists: each combination is its own engine (loaded in turn in this
          process) running the same requests; recompute runs without swap space, swap and auto with --swap-space-gib.
        --kv-cache-gib on cuda sets the KV cache's size exactly (bf16 blocks, or FP8 ones with --kv-cache-dtype fp8;
          GpuMemoryUtilization then does not size it).
        --kv-cache-dtype fp8 (cuda): EngineOptions.KvCacheDtype Fp8E4M3, K/V in E4M3 with per-layer scales (bf16: the default).
        --workload agents-rounds: --preambles distinct preambles x --rounds rounds, each round one request per preamble
          (preamble + distinct question, --answer-len tokens out), sent at once after the previous round completed.
        """;
    public bool Help;
    public string? Model, Output, Requests, WriteRequests;
    public string Device = "cpu", Mode = "offline", Workload = "sharegpt", Api = "tokens";
    public int? NumRequests, Vocab, KvBlocks, MaxModelLen;
    public double? BandwidthGBs, GpuMemoryUtilization;
    public bool EnforceEager;
    public WeightQuantization WeightQuantization;
    public KvCacheDtype KvCacheDtype;
    public int LogprobsEvery, Logprobs = 5, AbRounds = 2;
    public string? Constrain;
    public int Seed, InputLen = 1024, OutputLen = 128, MaxNumSeqs = 256, MaxNumBatchedTokens = 8192, BlockSize = 16;
    public double KvCacheGiB = 1, SwapSpaceGiB;
    public bool KvCacheGiBGiven;
    /// <summary>Null: one engine as configured; else one engine per value (cross product with <see cref="HostCacheGiB"/>).</summary>
    public List<string?>? Preemption;
    public List<double?>? HostCacheGiB;
    public int Preambles = 32, Rounds = 16, PreambleLen = 4096, QuestionLen = 64, AnswerLen = 64;
    public List<double> Rates = [double.PositiveInfinity];
    public bool NoPrefixCache;

    public static Options Parse(string[] a)
    {
        var o = new Options();
        bool rateGiven = false;
        for (int i = 0; i < a.Length; i++)
        {
            string Next() => i + 1 < a.Length ? a[++i] : throw new ArgumentException($"{a[i]} needs a value.");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            double Dbl() => double.Parse(Next(), CultureInfo.InvariantCulture);
            switch (a[i])
            {
                case "-h" or "--help": o.Help = true; break;
                case "--model": o.Model = Next(); break;
                case "--constrain": o.Constrain = Next(); break;
                case "--ab-rounds": o.AbRounds = Int(); break;
                case "--device": o.Device = Next(); break;
                case "--mode": o.Mode = Next(); break;
                case "--workload": o.Workload = Next(); break;
                case "--input-len": o.InputLen = Int(); break;
                case "--output-len": o.OutputLen = Int(); break;
                case "--num-requests": o.NumRequests = Int(); break;
                case "--rate":
                    o.Rates = Next().Split(',').Select(s => s is "inf" ? double.PositiveInfinity : double.Parse(s, CultureInfo.InvariantCulture)).ToList();
                    rateGiven = true;
                    break;
                case "--seed": o.Seed = Int(); break;
                case "--no-prefix-cache": o.NoPrefixCache = true; break;
                case "--output": o.Output = Next(); break;
                case "--requests": o.Requests = Next(); break;
                case "--write-requests": o.WriteRequests = Next(); break;
                case "--vocab": o.Vocab = Int(); break;
                case "--api": o.Api = Next(); break;
                case "--max-num-seqs": o.MaxNumSeqs = Int(); break;
                case "--max-num-batched-tokens": o.MaxNumBatchedTokens = Int(); break;
                case "--kv-blocks": o.KvBlocks = Int(); break;
                case "--kv-cache-gib": o.KvCacheGiB = Dbl(); o.KvCacheGiBGiven = true; break;
                case "--swap-space-gib": o.SwapSpaceGiB = Dbl(); break;
                case "--preemption":
                    o.Preemption = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(m => m is "recompute" or "swap" or "auto" ? m : throw new ArgumentException($"--preemption: '{m}' is not recompute, swap or auto."))];
                    break;
                case "--host-cache-gib":
                    o.HostCacheGiB = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => (double?)double.Parse(v, CultureInfo.InvariantCulture))];
                    break;
                case "--preambles": o.Preambles = Int(); break;
                case "--rounds": o.Rounds = Int(); break;
                case "--preamble-len": o.PreambleLen = Int(); break;
                case "--question-len": o.QuestionLen = Int(); break;
                case "--answer-len": o.AnswerLen = Int(); break;
                case "--block-size": o.BlockSize = Int(); break;
                case "--max-model-len": o.MaxModelLen = Int(); break;
                case "--bandwidth-gbs": o.BandwidthGBs = Dbl(); break;
                case "--gpu-memory-utilization": o.GpuMemoryUtilization = Dbl(); break;
                case "--enforce-eager": o.EnforceEager = true; break;
                case "--weight-quantization":
                    o.WeightQuantization = Enum.TryParse<WeightQuantization>(Next(), ignoreCase: true, out var wq) && Enum.IsDefined(wq) ? wq
                        : throw new ArgumentException("--weight-quantization must be none, int8, int4 or fp8.");
                    break;
                case "--kv-cache-dtype":
                    o.KvCacheDtype = Next().ToLowerInvariant() switch
                    {
                        "bf16" or "auto" => KvCacheDtype.Auto,
                        "fp8" or "fp8_e4m3" => KvCacheDtype.Fp8E4M3,
                        _ => throw new ArgumentException("--kv-cache-dtype must be bf16 or fp8."),
                    };
                    break;
                case "--logprobs-every": o.LogprobsEvery = Int(); break;
                case "--logprobs": o.Logprobs = Int(); break;
                default: throw new ArgumentException($"Unknown option {a[i]}.\n{Usage}");
            }
        }
        // A rate without --mode means serving.
        if (rateGiven && !a.Contains("--mode")) o.Mode = "serving";
        if (o.Mode is not ("offline" or "serving")) throw new ArgumentException("--mode must be offline or serving.");
        if (o.Api is not ("tokens" or "chat")) throw new ArgumentException("--api must be tokens or chat.");
        if (o.Preemption is { Count: 0 } || o.HostCacheGiB is { Count: 0 }) throw new ArgumentException("--preemption and --host-cache-gib need at least one value.");
        if (o.Preemption?.Any(m => m is "swap" or "auto") == true && o.SwapSpaceGiB <= 0)
            throw new ArgumentException("--preemption swap or auto needs --swap-space-gib > 0 (without swap space every preemption recomputes).");
        if (o.SwapSpaceGiB < 0 || o.HostCacheGiB?.Any(h => h < 0) == true) throw new ArgumentException("--swap-space-gib and --host-cache-gib must be >= 0.");
        return o;
    }
}
