using System.Text.Json;
using System.Text.Json.Serialization;

namespace PagedAttention.Bench.Throughput;

/// <summary>One benchmark request: prompt token ids and the exact number of tokens to generate (eos ignored).</summary>
public sealed class BenchRequest
{
    [JsonPropertyName("prompt")] public int[] Prompt { get; set; } = [];
    [JsonPropertyName("output_len")] public int OutputLen { get; set; }
    /// <summary>Round of a workload that arrives in rounds (agents-rounds): round r is sent once round r - 1 has completed; null otherwise.</summary>
    [JsonPropertyName("round")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? Round { get; set; }
}

/// <summary>A seeded request list; written to JSON so the Python peers run exactly the same requests.</summary>
public sealed class Workload
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("description")] public string Description { get; set; } = "";
    [JsonPropertyName("seed")] public int Seed { get; set; }
    [JsonPropertyName("vocab")] public int Vocab { get; set; }
    [JsonPropertyName("shared_prefix_len")] public int SharedPrefixLen { get; set; }
    [JsonPropertyName("mean_input_len")] public double MeanInputLen { get; set; }
    [JsonPropertyName("mean_output_len")] public double MeanOutputLen { get; set; }
    [JsonPropertyName("requests")] public List<BenchRequest> Requests { get; set; } = [];

    public long TotalInputTokens => Requests.Sum(r => (long)r.Prompt.Length);
    public long TotalOutputTokens => Requests.Sum(r => (long)r.OutputLen);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var f = File.Create(path);
        JsonSerializer.Serialize(f, this, Json);
    }

    public static Workload Load(string path)
    {
        using var f = File.OpenRead(path);
        return JsonSerializer.Deserialize<Workload>(f, Json) ?? throw new InvalidDataException($"{path}: empty workload");
    }

    /// <summary>
    /// Builds a workload. Lengths:
    /// sharegpt: lognormal input (median 110, sigma 1.0) and output (median 250, sigma 0.85), resampled like vLLM's
    /// ShareGPT filter (input and output ≥ 4, input ≤ 1024, input + output ≤ min(2048, maxLen)); means ≈ 161 / 338.
    /// alpaca: lognormal input (median 16, sigma 0.6) and output (median 42, sigma 0.8), same filter; means ≈ 19 / 58.
    /// shared-prefix: one random prefix of 2,048 tokens + a distinct random 64-token suffix, 128 output tokens.
    /// fixed: every request inputLen in / outputLen out.
    /// agents-rounds: <paramref name="preambles"/> distinct random preambles of <paramref name="preambleLen"/> tokens, each
    /// followed by a distinct random <paramref name="questionLen"/>-token question, <paramref name="answerLen"/> output
    /// tokens; <paramref name="rounds"/> rounds, round r holding one request per preamble (in preamble order), sent once
    /// round r - 1 has completed (n is ignored: preambles × rounds requests).
    /// Token ids are uniform in [1, min(vocab, 128000)) (random-weight models; the Llama-3 special ids stay unused).
    /// </summary>
    public static Workload Create(string name, int n, int seed, int vocab, int maxLen, int fixedIn, int fixedOut,
        int prefixLen = 2048, int suffixLen = 64, int prefixOut = 128,
        int preambles = 32, int rounds = 16, int preambleLen = 4096, int questionLen = 64, int answerLen = 64)
    {
        var rng = new Random(seed);
        int hi = Math.Min(vocab, 128000);
        int[] Ids(int len) { var a = new int[len]; for (int i = 0; i < len; i++) a[i] = rng.Next(1, hi); return a; }
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        int LogNormal(double median, double sigma) => (int)Math.Round(median * Math.Exp(sigma * Normal()));
        var w = new Workload { Name = name, Seed = seed, Vocab = vocab };
        switch (name)
        {
            case "sharegpt":
            case "alpaca":
            {
                bool share = name == "sharegpt";
                (double mi, double si, double mo, double so) = share ? (110, 1.0, 250, 0.85) : (16, 0.6, 42, 0.8);
                int cap = Math.Min(2048, maxLen);
                while (w.Requests.Count < n)
                {
                    int inLen = LogNormal(mi, si), outLen = LogNormal(mo, so);
                    if (inLen < 4 || outLen < 4 || inLen > 1024 || inLen + outLen > cap) continue;
                    w.Requests.Add(new BenchRequest { Prompt = Ids(inLen), OutputLen = outLen });
                }
                w.Description = share
                    ? "ShareGPT-like: lognormal lengths (input median 110 sigma 1.0, output median 250 sigma 0.85), vLLM's filter (>= 4, input <= 1024, total <= 2048), random ids, eos ignored"
                    : "Alpaca-like: lognormal lengths (input median 16 sigma 0.6, output median 42 sigma 0.8), same filter, random ids, eos ignored";
                break;
            }
            case "shared-prefix":
            {
                var prefix = Ids(prefixLen);
                for (int i = 0; i < n; i++)
                    w.Requests.Add(new BenchRequest { Prompt = [.. prefix, .. Ids(suffixLen)], OutputLen = prefixOut });
                w.SharedPrefixLen = prefixLen;
                w.Description = $"Shared-prefix agents: one {prefixLen}-token random prefix + a distinct {suffixLen}-token random suffix each, {prefixOut} output tokens, eos ignored";
                break;
            }
            case "agents-rounds":
            {
                if (preambles < 1 || rounds < 1 || preambleLen < 1 || questionLen < 1 || answerLen < 1)
                    throw new ArgumentException("agents-rounds needs --preambles, --rounds, --preamble-len, --question-len and --answer-len >= 1.");
                if (preambleLen + questionLen + answerLen > maxLen)
                    throw new ArgumentException($"agents-rounds: preamble {preambleLen} + question {questionLen} + answer {answerLen} tokens exceed the model's {maxLen}.");
                var pre = new int[preambles][];
                for (int p = 0; p < preambles; p++) pre[p] = Ids(preambleLen);
                for (int r = 0; r < rounds; r++)
                    for (int p = 0; p < preambles; p++)
                        w.Requests.Add(new BenchRequest { Prompt = [.. pre[p], .. Ids(questionLen)], OutputLen = answerLen, Round = r });
                w.SharedPrefixLen = preambleLen;
                w.Description = $"Agents in rounds: {preambles} distinct random {preambleLen}-token preambles x {rounds} rounds; round r sends one request per preamble (preamble + a distinct random {questionLen}-token question, {answerLen} output tokens, eos ignored) at once, after round r - 1 completed";
                break;
            }
            case "fixed":
                for (int i = 0; i < n; i++) w.Requests.Add(new BenchRequest { Prompt = Ids(fixedIn), OutputLen = fixedOut });
                w.Name = $"fixed-{fixedIn}-{fixedOut}";
                w.Description = $"Fixed lengths: {fixedIn} random input ids, {fixedOut} output tokens, eos ignored";
                break;
            default:
                throw new ArgumentException($"Unknown workload '{name}' (sharegpt|alpaca|shared-prefix|fixed|agents-rounds).");
        }
        w.MeanInputLen = w.Requests.Average(r => r.Prompt.Length);
        w.MeanOutputLen = w.Requests.Average(r => r.OutputLen);
        return w;
    }
}
