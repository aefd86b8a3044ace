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
}
