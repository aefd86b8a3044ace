// MaskBench: grammar mask time per token and compile time, on the real Llama-3 and Qwen3 vocabularies, over the
// JSON-Schema-Test-Suite schemas (masks along each valid instance's tokens) and realistic tool schemas (masks along
// seeded random generations). One thread; each schema starts from a freshly compiled grammar, so lazy lexer-DFA
// construction is inside the measured masks, as in llguidance's MaskBench.
//   dotnet run -c Release --project bench/MaskBench [-- --tokenizers DIR --suite DIR --tools FILE --walks N]
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using PagedAttention.AI.Constraints;
using PagedAttention.Text.Tokenization;

string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
string tokDir = Arg("--tokenizers") ?? Path.Combine(home, ".cache", "pagedattention", "tokenizers");
string suiteDir = Arg("--suite") ?? Path.Combine(home, ".cache", "pagedattention", "json-schema-test-suite", "package", "tests", "draft4");
string toolsFile = Arg("--tools") ?? Path.Combine(FindRepo(), "tests", "PagedAttention.Tests", "Data", "constraints", "tool-schemas.json");
int walks = int.Parse(Arg("--walks") ?? "5");
bool verbose = args.Contains("--verbose");
// --warm: run every schema's sequence twice on the same compiled grammar and time the second run (lexer DFA warm).
bool warm = args.Contains("--warm");
int repeat = int.Parse(Arg("--repeat") ?? "1"); // each schema this many times, each time freshly compiled
string? only = Arg("--only"); // a schema-name prefix: measure those schemas alone (profiling)
string current = "";
bool record = true;

if (!Directory.Exists(suiteDir)) { Console.Error.WriteLine($"suite not found: {suiteDir} (run the Constraints tests once, they fetch it)"); return 1; }
var suite = new List<(string Name, string Schema, List<string> Valid)>();
foreach (var file in Directory.GetFiles(suiteDir, "*.json").Order(StringComparer.Ordinal))
{
    var arr = JsonNode.Parse(File.ReadAllText(file))!.AsArray();
    for (int i = 0; i < arr.Count; i++)
        suite.Add(($"{Path.GetFileName(file)}#{i}", arr[i]!["schema"]!.ToJsonString(),
            arr[i]!["tests"]!.AsArray().Where(t => t!["valid"]!.GetValue<bool>()).Select(t => JsonCanonical.Value(t!["data"])).ToList()));
}
var tools = JsonNode.Parse(File.ReadAllText(toolsFile))!.AsArray().Select(n => (n!["name"]!.GetValue<string>(), n["schema"]!.ToJsonString())).ToList();

Console.WriteLine($"MaskBench: {Environment.ProcessorCount} logical CPUs visible, 1 thread used; {RuntimeInfo()}");
Console.WriteLine($"schemas: {suite.Count} suite (draft4) + {tools.Count} tool; {walks} random generations per tool schema");
if (args.Contains("--dense"))
{
    // Steady-state cost of dense masks: a free string (slice), a maxLength string (bounded slice), a pattern (full walk).
    var tk = Tokenizer.FromFile(Path.Combine(tokDir, "llama3"));
    var v = TokenVocabulary.FromTokenizer(tk);
    var w = new uint[v.MaskWords];
    foreach (var (label, schema) in new[] { ("free string (sliced)", "{\"type\":\"string\"}"), ("maxLength string (bounded slice)", "{\"type\":\"string\",\"maxLength\":500}"), ("pattern string (full walk)", "{\"type\":\"string\",\"pattern\":\"^[a-z ]+$\"}"), ("number", "{\"type\":\"number\"}") })
    {
        var m = CompiledGrammar.Create(Constraint.JsonSchema(schema), v).CreateMatcher();
        m.TryConsumeBytes(label == "number" ? "12"u8 : "\"ab"u8);
        var t = new List<double>();
        for (int i = 0; i < 300; i++) { long c0 = ThreadCpu.Nanoseconds(); m.ComputeMask(w); t.Add((ThreadCpu.Nanoseconds() - c0) / 1000.0); }
        t.Sort();
        Console.WriteLine($"{label,-34} min {t[0]:F0} us, median {t[150]:F0} us, allowed {w.Sum(x => System.Numerics.BitOperations.PopCount(x)):N0}");
    }
    return 0;
}
var summary = new List<string>();
// The first pass warms the JIT (its numbers are dropped); every measured schema still gets a fresh grammar.
foreach (var (name, eosName, measured) in new[] { ("llama3", "<|eot_id|>", false), ("llama3", "<|eot_id|>", true), ("qwen3", "<|im_end|>", true) })
{
    var tokenizer = Tokenizer.FromFile(Path.Combine(tokDir, name));
    var sw = Stopwatch.StartNew();
    int[] eos = [tokenizer.TokenToId(eosName) ?? tokenizer.EosTokenId ?? 0];
    var vocab = TokenVocabulary.FromTokenizer(tokenizer, eos);
    double vocabMs = sw.Elapsed.TotalMilliseconds;
    // The GC's state is the bench's, not the grammar's: start each pass from a collected heap, and each schema
    // (below) from an empty young generation, so a collection the bench's own garbage made due does not land inside
    // a mask. Collections the masks' own allocations cause still count (none ran in our runs; --verbose says).
    GC.Collect();
    GC.WaitForPendingFinalizers();
    var masks = new List<double>(); // thread CPU time: the machine may be shared, preemption is not the mask's cost
    var wall = new List<double>();
    var compiles = new List<double>();
    var mask = new uint[vocab.MaskWords];
    long allocated = 0;
    int zeroAlloc = 0, gcMasks = 0;
    int compileErrors = 0;
    var rng = new Random(7);
    var closers = Enumerable.Range(0, vocab.Size).Where(t => vocab.TokenBytes(t).IndexOfAny("\"}],"u8) >= 0).ToArray();

    CompiledGrammar? CompileTimed(string schema, JsonGrammarOptions o)
    {
        long c0 = ThreadCpu.Nanoseconds();
        try
        {
            var cg = CompiledGrammar.Create(Constraint.JsonSchema(schema, o), vocab);
            cg.CreateMatcher();
            double cus = (ThreadCpu.Nanoseconds() - c0) / 1000.0; // thread CPU time, as for masks
            compiles.Add(cus);
            GC.Collect(1, GCCollectionMode.Forced, blocking: true);
            if (verbose && measured && cus > 5000) Console.WriteLine($"  slow compile {cus / 1000:F1} ms: {current}");
            return cg;
        }
        catch (GrammarCompileException) { compileErrors++; return null; }
    }

    void Timed(TokenMatcher m)
    {
        int f0 = m.Grammar.Lexer.FillCount, gc0 = GC.CollectionCount(0);
        long a0 = GC.GetAllocatedBytesForCurrentThread();
        long c0 = ThreadCpu.Nanoseconds();
        long t0 = Stopwatch.GetTimestamp();
        m.ComputeMask(mask);
        double wallUs = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        double us = (ThreadCpu.Nanoseconds() - c0) / 1000.0;
        long bytes = GC.GetAllocatedBytesForCurrentThread() - a0;
        if (!record) return;
        if (GC.CollectionCount(0) > gc0) gcMasks++;
        allocated += bytes;
        if (bytes == 0) zeroAlloc++;
        masks.Add(us);
        wall.Add(wallUs);
        if (verbose && measured && us > 500)
            Console.WriteLine($"  slow mask {us:F0} us: {current}, {mask.Sum(w => System.Numerics.BitOperations.PopCount(w))} allowed, trie {m.LastTrieSize} nodes, visited {m.LastVisited}, {m.LastScans} scans, {m.Grammar.Lexer.FillCount - f0} new transitions ({m.Grammar.Lexer.StateCount} states, {m.Grammar.Grammar.Exprs.Count} exprs, {m.Grammar.Lexer.ClassCount} classes), {bytes} bytes allocated{(GC.CollectionCount(0) > gc0 ? ", GC ran" : "")}");
    }

    foreach (var (sname, schema, valid) in Enumerable.Repeat(suite, repeat).SelectMany(x => x))
    {
        if (only is not null && !sname.StartsWith(only, StringComparison.Ordinal)) continue;
        current = sname;
        var cg = CompileTimed(schema, new JsonGrammarOptions { Draft4 = true });
        if (cg is null) continue;
        for (int pass = warm ? 0 : 1; pass < 2; pass++)
        foreach (string text in valid)
        {
            record = pass == 1;
            var m = cg.CreateMatcher();
            foreach (int t in tokenizer.Encode(text, addSpecialTokens: false))
            {
                Timed(m);
                if (!m.TryConsume(t)) break; // an instance in another property order: the rest is not this grammar's
            }
        }
    }
    foreach (var (tname, schema) in Enumerable.Repeat(tools, repeat).SelectMany(x => x))
    {
        if (only is not null && !tname.StartsWith(only, StringComparison.Ordinal)) continue;
        current = tname;
        var cg = CompileTimed(schema, JsonGrammarOptions.Default);
        if (cg is null) continue;
        for (int w = 0; w < (warm ? 2 * walks : walks); w++)
        {
            record = !warm || w >= walks;
            var m = cg.CreateMatcher();
            for (int step = 0; step < 200 && !m.IsStopped; step++)
            {
                Timed(m);
                bool Ok(int t) => (mask[t >> 5] & (1u << (t & 31))) != 0;
                int pick = -1;
                if (rng.Next(3) == 0) { if (Ok(eos[0])) pick = eos[0]; for (int k = 0; k < 256 && pick < 0; k++) { int t = closers[rng.Next(closers.Length)]; if (Ok(t)) pick = t; } }
                for (int k = 0; k < 64 && pick < 0; k++) { int t = rng.Next(vocab.Size); if (Ok(t)) pick = t; }
                if (pick < 0) for (int t = 0; t < vocab.Size && pick < 0; t++) if (Ok(t) && rng.Next(4) == 0) pick = t;
                if (pick < 0) for (int t = 0; t < vocab.Size && pick < 0; t++) if (Ok(t)) pick = t;
                if (pick < 0 || !m.TryConsume(pick) || pick == eos[0]) break;
            }
        }
    }
    if (!measured) continue;
    masks.Sort();
    wall.Sort();
    compiles.Sort();
    Console.WriteLine();
    Console.WriteLine($"{name}: vocabulary {vocab.Size:N0} tokens, trie {vocab.Trie.Nodes.Length:N0} nodes (rest trie {vocab.RestTrie.Nodes.Length:N0}), built in {vocabMs:F0} ms");
    Console.WriteLine($"  {masks.Count:N0} masks: mean {masks.Average():F1} us, p50 {P(masks, 50):F1}, p99 {P(masks, 99):F1}, p99.9 {P(masks, 99.9):F1}, max {masks[^1]:F0} us");
    Console.WriteLine($"  allocated per mask: mean {(double)allocated / masks.Count:F0} bytes; {zeroAlloc:N0} of {masks.Count:N0} masks allocated nothing; a GC ran during {gcMasks} masks");
    Console.WriteLine($"  wall clock: mean {wall.Average():F1} us, p50 {P(wall, 50):F1}, p99 {P(wall, 99):F1}, p99.9 {P(wall, 99.9):F1}, max {wall[^1]:F0} us");
    Console.WriteLine($"  {compiles.Count} grammars compiled ({compileErrors} compile errors): p50 {P(compiles, 50) / 1000:F2} ms, p99 {P(compiles, 99) / 1000:F2} ms, mean {compiles.Average() / 1000:F2} ms");
    summary.Add($"| PagedAttention.AI ({name}, {vocab.Size / 1000}k) | {masks.Average():F0} | {P(masks, 50):F0} | {P(masks, 99):F0} | {P(masks, 99.9):F0} | {masks[^1]:F0} | {P(compiles, 50) / 1000:F2} / {P(compiles, 99) / 1000:F2} |");
}
Console.WriteLine();
Console.WriteLine("Mask times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID); wall-clock lines above.");
Console.WriteLine("| engine | mask mean us | p50 | p99 | p99.9 | max | compile p50 / p99 ms |");
Console.WriteLine("|---|---|---|---|---|---|---|");
foreach (var s in summary) Console.WriteLine(s);
Console.WriteLine("| llguidance 0.6.7 (MaskBench, published) | 47 | 36 | 460 | 1,453 | 20,000 | mean 1.6 |");
Console.WriteLine("| XGrammar 0.1.10 (MaskBench, published) | 292 | 8 | 4,900 | 44,700 | - | mean 4,100 |");
Console.WriteLine("| target (one core, 128k) | <= 50 | - | <= 500 | - | - | p50 <= 2 |");
return 0;

static double P(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p / 100 * sorted.Count) - 1)];

string? Arg(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }

static string FindRepo()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "Provider.sln"))) return d.FullName;
    return Directory.GetCurrentDirectory();
}

static string RuntimeInfo()
{
    string cpu = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':')[1].Trim() ?? "?" : "?";
    return $"{cpu}, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}";
}

/// <summary>The calling thread's CPU time (Linux clock_gettime(CLOCK_THREAD_CPUTIME_ID)); wall time elsewhere.</summary>
internal static class ThreadCpu
{
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct Timespec { public long Sec; public long Nsec; }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec ts);

    private static readonly bool Linux = OperatingSystem.IsLinux();

    public static long Nanoseconds()
    {
        if (!Linux) return Stopwatch.GetTimestamp() * (1_000_000_000L / Stopwatch.Frequency);
        ClockGetTime(3, out var ts);
        return ts.Sec * 1_000_000_000L + ts.Nsec;
    }
}
