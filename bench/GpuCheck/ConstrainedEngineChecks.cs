using System.Text;
using System.Text.Json;
using PagedAttention.AI.Chat.StructuredOutput;
using PagedAttention.AI.Constraints;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;

namespace GpuCheck;

/// <summary>
/// Constrained decoding through the CUDA engine (grammar masks computed by the sampler's worker pool while the
/// forward pass runs, pipelined steps): with a synthetic byte vocabulary over a test checkpoint, every constrained
/// output is JSON the grammar accepts, greedy constrained outputs equal the CPU engine's, and unconstrained greedy
/// neighbours in the same batches equal their solo runs.
/// </summary>
internal static class ConstrainedEngineChecks
{
    private const string Schema = """{"type":"object","properties":{"id":{"type":"integer","minimum":0,"maximum":999},"tag":{"enum":["a","bb","ccc"]},"name":{"type":"string","maxLength":6},"ok":{"type":"boolean"}},"required":["id","tag","name","ok"],"additionalProperties":false}""";

    public static void Run(string dir, Report rep) => rep.Run("engine constrained", () => Check(dir, rep));

    private static void Check(string dir, Report rep)
    {
        using var cpu = LlmEngine.LoadAsync(new EngineOptions { ModelPath = dir, NumKvBlocks = 256, MaxNumSeqs = 64 }).GetAwaiter().GetResult();
        using var gpu = LlmEngine.LoadAsync(new EngineOptions { ModelPath = dir, Device = "cuda", NumKvBlocks = 512, MaxNumSeqs = 64, MaxNumBatchedTokens = 512 }).GetAwaiter().GetResult();
        int vocab = gpu.Model.Config.VocabSize;
        int eos = gpu.Model.Config.EosTokenIds[0];
        // Token t < 256 is the byte t; above, a random pair of printable bytes (so tokens span lexemes).
        var r = new Random(11);
        var bytes = new byte[vocab][];
        for (int t = 0; t < vocab; t++) bytes[t] = t < 256 ? [(byte)t] : [(byte)r.Next(32, 127), (byte)r.Next(32, 127)];
        var tokenBytes = bytes.Select(b => (byte[])b.Clone()).ToArray();
        var grammar = CompiledGrammar.Create(Constraint.JsonSchema(Schema), TokenVocabulary.FromBytes(bytes, [eos]));
        Func<ITokenConstraint> factory = () => new GrammarConstraint(grammar.CreateMatcher(), "the GPU check schema");

        var prompts = Enumerable.Range(0, 48).Select(i => Enumerable.Range(0, 5 + i % 17).Select(_ => r.Next(3, vocab)).ToArray()).ToArray();
        SamplingParams P(int i) => i % 3 == 2
            ? new SamplingParams { Temperature = 0, MaxTokens = 24, IgnoreEos = true } // unconstrained neighbour
            : new SamplingParams { Temperature = i % 3 == 0 ? 0 : 1, Seed = i, MaxTokens = 200, N = i % 5 == 0 ? 2 : 1, Constraint = factory };
        var gOut = Task.WhenAll(prompts.Select((p, i) => Collect(gpu, p, P(i)))).GetAwaiter().GetResult();
        var cOut = Task.WhenAll(prompts.Select((p, i) => Collect(cpu, p, P(i)))).GetAwaiter().GetResult();

        int valid = 0, constrained = 0, greedyEqual = 0, greedy = 0, neighbours = 0, neighboursEqual = 0;
        var bad = new StringBuilder();
        for (int i = 0; i < prompts.Length; i++)
        {
            if (i % 3 == 2)
            {
                neighbours++;
                var solo = Collect(gpu, prompts[i], P(i)).GetAwaiter().GetResult();
                if (solo[0].SequenceEqual(gOut[i][0])) neighboursEqual++;
                continue;
            }
            foreach (var seq in gOut[i])
            {
                constrained++;
                var text = Encoding.UTF8.GetString([.. seq.Where(t => t != eos).SelectMany(t => tokenBytes[t])]);
                try
                {
                    using var doc = JsonDocument.Parse(text);
                    var root = doc.RootElement;
                    string name = root.GetProperty("name").GetString()!;
                    if (root.GetProperty("id").GetInt32() is >= 0 and <= 999 && name.EnumerateRunes().Count() <= 6 && root.GetProperty("ok").ValueKind is JsonValueKind.True or JsonValueKind.False) valid++;
                    else bad.Append($" [{text}]");
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { bad.Append($" [{text}]"); }
            }
            if (i % 3 == 0)
            {
                greedy++;
                if (gOut[i][0].SequenceEqual(cOut[i][0])) greedyEqual++;
            }
        }
        rep.Check("engine constrained: every constrained GPU output is valid JSON of the schema", valid == constrained, $"{valid}/{constrained} valid;{bad}");
        rep.Check("engine constrained: unconstrained greedy neighbours equal their solo runs", neighboursEqual == neighbours, $"{neighboursEqual}/{neighbours}");
        // bf16 GPU weights vs the fp32 CPU path on a random tiny model: near ties flip greedy choices (the unconstrained
        // checks above see the same), so this is reported, not required.
        Console.WriteLine($"INFO engine constrained: greedy constrained outputs equal to the CPU engine's: {greedyEqual}/{greedy}");
    }

    private static async Task<int[][]> Collect(LlmEngine e, int[] prompt, SamplingParams p)
    {
        var seqs = Enumerable.Range(0, p.N).Select(_ => new List<int>()).ToArray();
        await foreach (var o in e.GenerateAsync(prompt, p)) seqs[o.SequenceIndex].Add(o.TokenId);
        return [.. seqs.Select(s => s.ToArray())];
    }
}
