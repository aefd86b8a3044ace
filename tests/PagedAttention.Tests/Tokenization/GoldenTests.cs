using System.Text;
using System.Text.Json;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.Tests.Tokenization;

/// <summary>Byte-exact comparison with goldens made by the official Rust tokenizer (tools/tokenizer-goldens/gen-goldens.sh).</summary>
public sealed class GoldenTests
{
    public static TheoryData<string> Names => new() { "llama3", "qwen3", "gemma3", "llama2", "gpt2", "llama2-real" };

    private sealed record Case(string Text, bool AddSpecialTokens, int[] Ids, string Decoded, string DecodedSkipSpecial);

    private static List<Case> Load(string name)
    {
        string file = Path.Combine(AppContext.BaseDirectory, "Data", "tokenizers", name + ".golden.jsonl");
        var list = new List<Case>();
        foreach (string line in File.ReadLines(file))
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            list.Add(new Case(r.GetProperty("text").GetString()!, r.GetProperty("addSpecialTokens").GetBoolean(),
                r.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                r.GetProperty("decoded").GetString()!, r.GetProperty("decodedSkipSpecial").GetString()!));
        }
        Assert.True(list.Count >= 600, $"{name}: expected >= 300 texts x 2, found {list.Count} cases");
        return list;
    }

    private static string Show(string s) => JsonSerializer.Serialize(s.Length > 80 ? s[..80] + "…" : s);

    private static void Report(string name, string what, List<string> failures, int total)
    {
        if (failures.Count > 0)
            Assert.Fail($"{name}: {what} differs from the Rust tokenizer on {failures.Count}/{total} cases:\n" + string.Join("\n", failures.Take(12)));
    }

    private static void CheckEncode(string name, Tokenizer tok, string what)
    {
        var cases = Load(name);
        var failures = new List<string>();
        foreach (var c in cases)
        {
            int[] ids = tok.Encode(c.Text, c.AddSpecialTokens);
            if (!ids.AsSpan().SequenceEqual(c.Ids))
                failures.Add($"  {Show(c.Text)} special={c.AddSpecialTokens}\n    want [{string.Join(",", c.Ids.Take(30))}]\n    got  [{string.Join(",", ids.Take(30))}]");
        }
        Report(name, what, failures, cases.Count);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void EncodeMatchesRustTokenizer(string name)
    {
        var tok = TokenizerFixtures.Get(name);
        CheckEncode(name, tok, "Encode");
    }

    /// <summary>The span fast paths (byte-level, SentencePiece-style) must not be the only thing the goldens check:
    /// the general normalizer / pre-tokenizer pipeline, used by every other tokenizer.json shape, gives the same ids.</summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void GeneralPipelineMatchesRustTokenizer(string name)
    {
        var fast = TokenizerFixtures.Get(name);
        Assert.True(fast.HasFastPath, $"{name}: expected a fast path");
        var tok = Tokenizer.FromFile(TokenizerFixtures.Directory(name));
        tok.DisableFastPaths();
        CheckEncode(name, tok, "Encode (general pipeline)");
    }

    /// <summary>Long inputs (all golden texts joined, ~1 MB-style chunks as in the benchmark) give the same ids through the
    /// fast paths — including the '▁' segmentation of long SentencePiece words — as through the general pipeline,
    /// whose BPE merges each whole word with the heap like the Rust library.</summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void FastPathsMatchGeneralPipelineOnLongText(string name)
    {
        var fast = TokenizerFixtures.Get(name);
        var general = Tokenizer.FromFile(TokenizerFixtures.Directory(name));
        general.DisableFastPaths();
        var texts = Load(name).Where(c => !c.AddSpecialTokens).Select(c => c.Text).ToList();
        texts.Add("<p>a</p> </p> <b> </b>> </b>\u2581</i> x> </y>"); // Gemma 3 merges ('>', '▁</') across a '▁'
        foreach (string sep in new[] { "\n", " ", "" })
        {
            string text = string.Join(sep, texts);
            int[] want = general.Encode(text, addSpecialTokens: false);
            int[] got = fast.Encode(text, addSpecialTokens: false);
            Assert.True(want.AsSpan().SequenceEqual(got), $"{name}: fast path differs on the joined texts (separator {JsonSerializer.Serialize(sep)})");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void DecodeMatchesRustTokenizer(string name)
    {
        var tok = TokenizerFixtures.Get(name);
        var cases = Load(name);
        var failures = new List<string>();
        foreach (var c in cases)
        {
            string d = tok.Decode(c.Ids), ds = tok.Decode(c.Ids, skipSpecialTokens: true);
            if (d != c.Decoded) failures.Add($"  {Show(c.Text)} decode: want {Show(c.Decoded)} got {Show(d)}");
            if (ds != c.DecodedSkipSpecial) failures.Add($"  {Show(c.Text)} decode(skip): want {Show(c.DecodedSkipSpecial)} got {Show(ds)}");
        }
        Report(name, "Decode", failures, cases.Count);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void StreamingDecoderConcatenationEqualsDecode(string name)
    {
        var tok = TokenizerFixtures.Get(name);
        var cases = Load(name);
        var failures = new List<string>();
        foreach (var c in cases)
        {
            foreach (bool skip in new[] { false, true })
            {
                var dec = tok.CreateDecoder(skip);
                var sb = new StringBuilder();
                foreach (int id in c.Ids)
                {
                    string piece = dec.Append(id);
                    // A multi-byte char split over tokens must never surface half-done.
                    if (piece.EndsWith('\uFFFD') && !(skip ? c.DecodedSkipSpecial : c.Decoded).Contains('\uFFFD'))
                        failures.Add($"  {Show(c.Text)} emitted a partial char");
                    sb.Append(piece);
                }
                sb.Append(dec.Flush());
                string want = skip ? c.DecodedSkipSpecial : c.Decoded;
                if (sb.ToString() != want) failures.Add($"  {Show(c.Text)} skip={skip}: want {Show(want)} got {Show(sb.ToString())}");
            }
        }
        Report(name, "streaming decode", failures, cases.Count);
    }
}
