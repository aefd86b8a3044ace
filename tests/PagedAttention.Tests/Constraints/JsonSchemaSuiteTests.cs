using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PagedAttention.AI.Constraints;
using PagedAttention.Tests.Tokenization;
using Xunit.Abstractions;

namespace PagedAttention.Tests.Constraints;

/// <summary>
/// The JSON-Schema-Test-Suite (draft 4, the newest draft in the pinned npm package): every schema the compiler
/// accepts must accept each valid instance — fed byte by byte and as Llama-3 tokens — and reject each invalid one.
/// Accepted-schema counts per file are kept in Data/constraints/json-schema-test-suite.ratchet.json; a count that
/// drops fails the test (raise the file when support grows).
/// </summary>
public class JsonSchemaSuiteTests(ITestOutputHelper output)
{
    private static readonly JsonGrammarOptions Options = new() { Draft4 = true };

    internal static string RatchetPath => Path.Combine(TestData.Root, "constraints", "json-schema-test-suite.ratchet.json");

    [Fact]
    public void AcceptedSchemas_MatchTheirInstances_ByteAndToken()
    {
        var tokenizer = TokenizerFixtures.Get("llama3");
        var vocab = TokenVocabulary.FromTokenizer(tokenizer);
        var perFile = new SortedDictionary<string, (int Accepted, int Total)>(StringComparer.Ordinal);
        var failures = new List<string>();
        var rejectedKeywords = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int instances = 0;
        foreach (var c in JsonSchemaSuite.Draft4())
        {
            var (acc, total) = perFile.GetValueOrDefault(c.File);
            Grammar g;
            try { g = Constraint.JsonSchema(c.Schema.ToJsonString(), Options); }
            catch (GrammarCompileException e)
            {
                rejectedKeywords[e.Keyword] = rejectedKeywords.GetValueOrDefault(e.Keyword) + 1;
                perFile[c.File] = (acc, total + 1);
                continue;
            }
            perFile[c.File] = (acc + 1, total + 1);
            var cg = CompiledGrammar.Create(g, vocab);
            foreach (var (desc, data, valid) in c.Tests)
            {
                instances++;
                var candidates = new[] { JsonCanonical.Value(InstanceCanonicalizer.Reorder(data, c.Schema, c.Schema)), JsonCanonical.Value(data) }.Distinct().ToList();
                bool bytesOk = candidates.Any(t => ConstraintTestKit.AcceptsBytes(cg, t));
                bool tokensOk = candidates.Any(t => ConstraintTestKit.AcceptsTokens(cg, tokenizer.Encode(t, addSpecialTokens: false)));
                if (bytesOk != valid || tokensOk != valid)
                    failures.Add($"{c.File}#{c.Index} '{c.Description}' / '{desc}': valid={valid} bytes={bytesOk} tokens={tokensOk} text={candidates[0]}");
            }
        }
        foreach (var (file, (a, t)) in perFile) output.WriteLine($"{file,-28} {a,3}/{t,3} schemas accepted");
        output.WriteLine($"total {perFile.Values.Sum(x => x.Accepted)}/{perFile.Values.Sum(x => x.Total)} schemas, {instances} instances checked");
        output.WriteLine("compile errors by keyword: " + string.Join(", ", rejectedKeywords.Select(kv => $"{kv.Key}={kv.Value}")));
        foreach (var f in failures) output.WriteLine("FAIL " + f);
        Assert.True(failures.Count == 0, $"{failures.Count} instances judged wrongly:\n" + string.Join("\n", failures));

        var ratchet = JsonNode.Parse(File.ReadAllText(RatchetPath))!.AsObject();
        var drops = ratchet.Where(kv => perFile.GetValueOrDefault(kv.Key).Accepted < kv.Value!.GetValue<int>())
            .Select(kv => $"{kv.Key}: {perFile.GetValueOrDefault(kv.Key).Accepted} < {kv.Value}").ToList();
        if (Environment.GetEnvironmentVariable("PAGEDATTENTION_UPDATE_RATCHET") == "1")
        {
            var now = new JsonObject();
            foreach (var (file, (a, _)) in perFile) now[file] = a;
            File.WriteAllText(Path.Combine(TestData.RepoRoot, "tests", "PagedAttention.Tests", "Data", "constraints", "json-schema-test-suite.ratchet.json"),
                now.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
        Assert.True(drops.Count == 0, "accepted-schema counts dropped below the ratchet:\n" + string.Join("\n", drops));
    }
}
