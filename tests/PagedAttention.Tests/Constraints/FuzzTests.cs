using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using PagedAttention.AI.Constraints;
using PagedAttention.Tests.Tokenization;
using Xunit.Abstractions;

namespace PagedAttention.Tests.Constraints;

/// <summary>
/// Random-logit generation under the mask: every output that finishes (EOS or nothing else allowed) must parse with
/// System.Text.Json and validate with JsonSchema.Net (draft 2020-12). Tool schemas and the suite schemas that mean
/// the same in draft 4 and 2020-12 (compiled in 2020-12 mode).
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    private static readonly string[] Draft4Only = ["\"items\":[", "exclusiveMinimum\":true", "exclusiveMaximum\":true", "exclusiveMinimum\":false", "exclusiveMaximum\":false", "additionalItems", "definitions", "$ref"];

    private static IEnumerable<(string Name, string Schema)> Schemas()
    {
        foreach (var s in ToolSchemas.All) yield return s;
        foreach (var c in JsonSchemaSuite.Draft4())
        {
            string text = c.Schema.ToJsonString();
            if (Draft4Only.Any(text.Contains)) continue;
            yield return ($"{c.File}#{c.Index}", text);
        }
    }

    [Fact]
    public void RandomLogits_CompletedOutputsValidate()
    {
        var tokenizer = TokenizerFixtures.Get("qwen3");
        int eos = tokenizer.TokenToId("<|im_end|>")!.Value;
        var vocab = TokenVocabulary.FromTokenizer(tokenizer, [eos]);
        // Tokens that help finish (closing punctuation, EOS) are tried first half of the time, so walks end before
        // the step bound; otherwise a uniformly random allowed token (random probes, then a scan of the mask).
        var closers = Enumerable.Range(0, vocab.Size).Where(t => vocab.TokenBytes(t).IndexOfAny("\"}],"u8) >= 0).ToArray();
        var rng = new Random(42);
        var mask = new uint[vocab.MaskWords];
        var allowed = new List<int>();
        int completed = 0, length = 0, compiled = 0, invalid = 0;
        var failures = new List<string>();
        foreach (var (name, schemaText) in Schemas())
        {
            Grammar g;
            try { g = Constraint.JsonSchema(schemaText); }
            catch (GrammarCompileException) { continue; }
            compiled++;
            var schema = JsonSchema.FromText(schemaText);
            var cg = CompiledGrammar.Create(g, vocab);
            for (int run = 0; run < 6; run++)
            {
                var m = cg.CreateMatcher();
                var bytes = new List<byte>();
                bool done = false;
                for (int step = 0; step < 150 && !done; step++)
                {
                    try { m.ComputeMask(mask); }
                    catch (Exception e) { throw new InvalidOperationException($"{name} after {JsonSerializer.Serialize(Encoding.UTF8.GetString(bytes.ToArray()))}: {e}", e); }
                    bool Ok(int t) => (mask[t >> 5] & (1u << (t & 31))) != 0;
                    int pick = -1;
                    if (rng.Next(2) == 0)
                    {
                        if (Ok(eos)) pick = eos;
                        for (int k = 0; k < 256 && pick < 0; k++) { int t = closers[rng.Next(closers.Length)]; if (Ok(t)) pick = t; }
                    }
                    for (int k = 0; k < 64 && pick < 0; k++) { int t = rng.Next(vocab.Size); if (Ok(t)) pick = t; }
                    if (pick < 0)
                    {
                        allowed.Clear();
                        for (int t = 0; t < vocab.Size; t++) if (Ok(t)) allowed.Add(t);
                        Assert.True(allowed.Count > 0, $"{name}: empty mask after '{Encoding.UTF8.GetString(bytes.ToArray())}'");
                        pick = allowed[rng.Next(allowed.Count)];
                    }
                    Assert.True(m.TryConsume(pick), $"{name}: the mask allowed {pick} but consume refused it");
                    bytes.AddRange(vocab.TokenBytes(pick).ToArray()); // EOS has no bytes
                    if (pick == eos || m.IsStopped) { done = true; break; }
                }
                if (!done) { length++; continue; }
                completed++;
                string text = Encoding.UTF8.GetString(bytes.ToArray());
                try
                {
                    using var doc = JsonDocument.Parse(text);
                    var result = schema.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.Flag });
                    if (!result.IsValid)
                    {
                        invalid++;
                        var detail = schema.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
                        string why = string.Join("; ", (detail.Details ?? []).Where(d => d.Errors is { Count: > 0 }).Select(d => $"{d.InstanceLocation}: {string.Join(",", d.Errors!.Values)}"));
                        failures.Add($"{name}: invalid ({why}): {JsonSerializer.Serialize(text)}");
                    }
                }
                catch (JsonException e) { invalid++; failures.Add($"{name}: does not parse ({e.Message}): {text}"); }
            }
        }
        output.WriteLine($"{compiled} schemas, {completed} completed outputs, {length} hit the step bound, {invalid} invalid");
        foreach (var f in failures.Take(20)) output.WriteLine(f);
        Assert.Empty(failures);
        Assert.True(completed > compiled, "too few outputs completed");
    }
}
