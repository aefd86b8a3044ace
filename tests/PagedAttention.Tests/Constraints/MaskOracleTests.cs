using PagedAttention.AI.Constraints;
using PagedAttention.Tests.Tokenization;
using Xunit.Abstractions;

namespace PagedAttention.Tests.Constraints;

/// <summary>
/// The fast mask (trie walk, cached scans) against the slow reference (every token's bytes fed one by one from the
/// same state, no trie) on states reached by random walks through tool schemas and the accepted suite schemas.
/// </summary>
public class MaskOracleTests(ITestOutputHelper output)
{
    internal static IEnumerable<(string Name, Grammar Grammar)> Schemas(bool draft4Suite = true)
    {
        foreach (var (name, schema) in ToolSchemas.All) yield return (name, Constraint.JsonSchema(schema));
        foreach (var c in JsonSchemaSuite.Draft4())
        {
            Grammar g;
            try { g = Constraint.JsonSchema(c.Schema.ToJsonString(), new JsonGrammarOptions { Draft4 = draft4Suite }); }
            catch (GrammarCompileException) { continue; }
            yield return ($"{c.File}#{c.Index}", g);
        }
    }

    [Theory]
    [InlineData("llama3", 1200)]
    [InlineData("gemma3", 300)]
    public void FastMask_EqualsReference_OnRandomWalks(string tokenizerName, int targetStates)
    {
        var vocab = TokenVocabulary.FromTokenizer(TokenizerFixtures.Get(tokenizerName));
        var rng = new Random(1234);
        var schemas = Schemas().ToList();
        int states = 0, mismatches = 0;
        var fast = new uint[vocab.MaskWords];
        for (int round = 0; states < targetStates; round++)
        {
            var (name, grammar) = schemas[round % schemas.Count];
            var m = CompiledGrammar.Create(grammar, vocab).CreateMatcher();
            for (int step = 0; step < 24 && states < targetStates; step++)
            {
                m.ComputeMask(fast);
                var slow = ConstraintTestKit.OracleMask(m);
                states++;
                if (!fast.AsSpan().SequenceEqual(slow))
                {
                    mismatches++;
                    int diff = Enumerable.Range(0, vocab.Size).First(t => ConstraintTestKit.Allowed(fast, t) != ConstraintTestKit.Allowed(slow, t));
                    output.WriteLine($"{name} step {step}: token {diff} fast={ConstraintTestKit.Allowed(fast, diff)} slow={ConstraintTestKit.Allowed(slow, diff)}");
                    break;
                }
                var allowed = Enumerable.Range(0, vocab.Size).Where(t => ConstraintTestKit.Allowed(fast, t) && !vocab.EosTokens.Contains(t)).ToList();
                if (allowed.Count == 0) break;
                int tok = allowed[rng.Next(allowed.Count)];
                Assert.True(m.TryConsume(tok), $"{name}: a token of the mask was refused");
            }
        }
        output.WriteLine($"{tokenizerName}: {states} states compared, {mismatches} mismatches");
        Assert.Equal(0, mismatches);
    }

    /// <summary>
    /// States the precomputed masks decide (string values with and without room limits, counted strings, word-class
    /// patterns and formats, additional-property keys), reached byte by byte — mid-escape and mid-UTF-8 included —
    /// against the reference.
    /// </summary>
    [Theory]
    [InlineData("llama3")]
    [InlineData("gemma3")]
    public void FastMask_EqualsReference_InsideStrings(string tokenizerName)
    {
        var vocab = TokenVocabulary.FromTokenizer(TokenizerFixtures.Get(tokenizerName));
        (string Schema, string[] Prefixes)[] cases =
        [
            ("""{"type":"string"}""", ["\"", "\"ab", "\"a\\", "\"a\\u00", "\"\u00e9x", "\"x\\n"]),
            ("""{"type":"string","maxLength":0}""", ["\""]),
            ("""{"type":"string","maxLength":3}""", ["\"", "\"a", "\"ab", "\"abc", "\"a\\"]),
            ("""{"type":"string","minLength":2,"maxLength":40}""", ["\"", "\"abcdefghij", "\"abcdefghijklmnopqrstuvwxyz0123456"]),
            ("""{"type":"object","properties":{"a":{"type":"string","maxLength":5},"b":{"type":"string"}}}""", ["{\"", "{\"a\":\"x", "{\"b\":\"x"]),
            ("""{"type":"string","format":"email"}""", ["\"", "\"ab", "\"ab.c", "\"ab@", "\"ab@ex"]),
            ("""{"type":"string","pattern":"^[A-Za-z0-9_./-]+$"}""", ["\"", "\"src/a"]),
            ("""{"type":"array","items":{"type":"string","maxLength":2}}""", ["[\"", "[\"a", "[\"ab\",\""]),
        ];
        int compared = 0;
        var fast = new uint[vocab.MaskWords];
        foreach (var (schema, prefixes) in cases)
            foreach (string prefix in prefixes)
            {
                var m = CompiledGrammar.Create(Constraint.JsonSchema(schema), vocab).CreateMatcher();
                byte[] bytes = System.Text.Encoding.UTF8.GetBytes(prefix);
                if (prefix == "\"\u00e9x") bytes = bytes[..^2]; // stop inside "é"
                Assert.True(m.TryConsumeBytes(bytes), $"{schema}: prefix {prefix} refused");
                m.ComputeMask(fast);
                var slow = ConstraintTestKit.OracleMask(m);
                compared++;
                if (!fast.AsSpan().SequenceEqual(slow))
                {
                    int diff = Enumerable.Range(0, vocab.Size).First(t => ConstraintTestKit.Allowed(fast, t) != ConstraintTestKit.Allowed(slow, t));
                    Assert.Fail($"{schema} after {prefix}: token {diff} fast={ConstraintTestKit.Allowed(fast, diff)} slow={ConstraintTestKit.Allowed(slow, diff)}");
                }
            }
        output.WriteLine($"{tokenizerName}: {compared} string states compared, all equal");
    }
}
