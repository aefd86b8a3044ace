// Tokenizer encode throughput (MB/s of UTF-8 input, one thread) vs. the Rust HF tokenizers through its Node binding.
// usage: dotnet run -c Release --project bench/TokenizerBench -- <fixtures dir> [runs per round = 3] [rounds = 3]
//        dotnet run -c Release --project bench/TokenizerBench -- --ml-tokenizers <fixtures dir> [runs] [rounds]
//   --ml-tokenizers: against Microsoft.ML.Tokenizers' TiktokenTokenizer on cl100k/o200k instead (MLTokenizersComparison.cs;
//   fixtures from tools/tokenizer-goldens/fetch-fixtures.sh <dir> --tiktoken).
//   <fixtures dir> holds <name>/tokenizer.json (tools/tokenizer-goldens/fetch-fixtures.sh fills ~/.cache/pagedattention/tokenizers).
//   The peer needs node and the npm package tokenizers@0.23.2 (set TOKENIZERS_NODE_MODULE to its folder if not resolvable).
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using PagedAttention.Text.Tokenization;

bool mlTokenizers = args.Length > 0 && args[0] == "--ml-tokenizers";
if (mlTokenizers) args = args[1..];
string fixtures = args.Length > 0 ? args[0] : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "pagedattention", "tokenizers");
int runs = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3;
int rounds = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 3;
string here = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..")); // bench/TokenizerBench
string repo = Path.GetFullPath(Path.Combine(here, "..", ".."));

// Corpus: the golden texts (many scripts, emoji, code, whitespace) interleaved with English prose, to >= 1 MB,
// cut into ~64 KB chunks at text boundaries (same chunks for both sides).
string[] texts = JsonSerializer.Deserialize<string[]>(File.ReadAllText(Path.Combine(repo, "tools", "tokenizer-goldens", "texts.json")))!;
const string prose = "The scheduler admits new requests while earlier ones are still decoding, so the batch never drains. ";
var chunks = new List<string>();
var sb = new StringBuilder();
long bytes = 0;
for (int i = 0; bytes < 1_100_000; i++)
{
    string t = (i % 3 == 0 ? prose : texts[i % texts.Length]) + "\n";
    sb.Append(t);
    bytes += Encoding.UTF8.GetByteCount(t);
    if (sb.Length > 64 * 1024) { chunks.Add(sb.ToString()); sb.Clear(); }
}
if (sb.Length > 0) chunks.Add(sb.ToString());
string corpusFile = Path.Combine(Path.GetTempPath(), "tokenizer-bench-corpus.json");
File.WriteAllText(corpusFile, JsonSerializer.Serialize(chunks));
double mb = bytes / 1e6;
if (mlTokenizers)
{
    MLTokenizersComparison.Run(fixtures, chunks, texts, mb, runs, rounds);
    return;
}
Console.WriteLine($"corpus: {mb:F2} MB UTF-8 in {chunks.Count} chunks; {rounds} rounds alternating ours and the peer, each a median of {runs} runs after a warm-up; one thread");
Console.WriteLine("| tokenizer | PagedAttention.AI MB/s | HF tokenizers (Rust, Node) MB/s | ratio (min–max over rounds) | ours, cold cache MB/s | alloc / MB input | ids equal |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---|");
string[] names = Environment.GetEnvironmentVariable("TOKENIZER_BENCH_ONLY") is { Length: > 0 } only
    ? only.Split(',') : ["llama3", "qwen3", "gemma3", "llama2", "gpt2"];
foreach (string name in names)
{
    string file = Path.Combine(fixtures, name, "tokenizer.json");
    if (!File.Exists(file)) { Console.WriteLine($"| {name} | (missing {file}) | | | |"); continue; }
    var tok = Tokenizer.FromFile(file);
    // Rounds alternate ours and the peer, so both see the same machine load; each round is a median of `runs` runs
    // after a warm-up; the table shows the medians over rounds and the median of the per-round ratios.
    var oursRounds = new List<double>();
    var peerRounds = new List<double>();
    var ratios = new List<double>();
    long ids = 0, peerIds = -1, allocated = 0;
    for (int round = 0; round < rounds; round++)
    {
        var times = new List<double>();
        for (int r = 0; r <= runs; r++)
        {
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            long n = 0;
            foreach (string c in chunks) n += tok.Encode(c, addSpecialTokens: false).Length;
            sw.Stop();
            if (r > 0) { times.Add(sw.Elapsed.TotalSeconds); allocated = GC.GetAllocatedBytesForCurrentThread() - a0; }
            ids = n;
        }
        double ours = Median(times);
        oursRounds.Add(ours);
        var (peerSec, pIds) = RunPeer(file);
        peerIds = pIds;
        if (peerSec > 0) { peerRounds.Add(peerSec); ratios.Add(peerSec / ours); }
    }
    double median = Median(oursRounds);
    // Cold cache: a freshly loaded instance (JIT already warm), one pass: what the word cache is worth on this corpus,
    // which repeats its texts (real traffic repeats words, not whole texts).
    var coldTok = Tokenizer.FromFile(file);
    var coldSw = Stopwatch.StartNew();
    foreach (string c in chunks) coldTok.Encode(c, addSpecialTokens: false);
    double cold = coldSw.Elapsed.TotalSeconds;
    string peer = peerRounds.Count > 0 ? $"{mb / Median(peerRounds):F2}" : "n/a";
    string ratio = ratios.Count > 0 ? $"{Median(ratios):F2}x" + (ratios.Count > 1 ? $" ({ratios.Min():F2}–{ratios.Max():F2})" : "") : "";
    // Allocation of a steady-state run (warm caches), per MB of UTF-8 input; includes the returned int[]s.
    string alloc = $"{allocated / mb / 1024:F0} KB";
    Console.WriteLine($"| {name} | {mb / median:F2} | {peer} | {ratio} | {mb / cold:F2} | {alloc} | {(peerIds == ids ? "yes" : $"NO ({ids} vs {peerIds})")} |");
}

static double Median(List<double> xs)
{
    var sorted = xs.OrderBy(x => x).ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

(double Seconds, long Ids) RunPeer(string tokenizerJson)
{
    if (Environment.GetEnvironmentVariable("TOKENIZER_BENCH_NO_PEER") == "1") return (-1, -1); // profiling ours alone
    try
    {
        var psi = new ProcessStartInfo("node", [Path.Combine(here, "peer.js"), tokenizerJson, corpusFile, runs.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) { Console.Error.WriteLine("peer failed: " + err); return (-1, -1); }
        var parts = output.Trim().Split(' ');
        return (double.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }
    catch (System.ComponentModel.Win32Exception e) { Console.Error.WriteLine("node not found: " + e.Message); return (-1, -1); }
}
