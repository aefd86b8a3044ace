using System.Text.Json;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;

namespace PagedAttention.Tests.Models;

/// <summary>
/// The engine's beam search against transformers' generate(num_beams=4 and 8, length_penalty, early_stopping,
/// do_sample=False) in float32 (tools/fidelity/beam_goldens.py): identical sequences and scores within 1e-4 on every
/// tiny architecture.
/// </summary>
public class BeamGoldenTests
{
    public static readonly string[] Models = ["llama", "llama-bf16", "mistral", "qwen2", "qwen3"];

    public static TheoryData<string> ModelNames => new(Models);

    public static string GoldenPath(string model) => Path.Combine(TestData.Model(model), "beam_golden.json");

    [BeamGoldenTheory]
    [MemberData(nameof(ModelNames))]
    public async Task BeamSearch_MatchesTransformers(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(GoldenPath(name)));
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = TestData.Model(name), NumKvBlocks = 512, MaxNumSeqs = 16 });
        int n = 0;
        var failures = new List<string>();
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            int[] prompt = Ints(c.GetProperty("prompt"));
            int k = c.GetProperty("num_beams").GetInt32();
            var es = c.GetProperty("early_stopping");
            var p = new SamplingParams
            {
                BeamWidth = k,
                N = k,
                MaxTokens = c.GetProperty("max_new_tokens").GetInt32(),
                MinTokens = c.GetProperty("min_new_tokens").GetInt32(),
                LengthPenalty = c.GetProperty("length_penalty").GetSingle(),
                EarlyStopping = es.ValueKind switch
                {
                    JsonValueKind.True => BeamEarlyStopping.WhenFull,
                    JsonValueKind.False => BeamEarlyStopping.Heuristic,
                    _ => es.GetString() == "never" ? BeamEarlyStopping.Never : throw new InvalidDataException($"early_stopping {es}"),
                },
                // Exactly the golden's end tokens (the model's eos among them).
                IgnoreEos = true,
                StopTokenIds = Ints(c.GetProperty("eos_token_ids")),
            };
            var got = await engine.BeamSearchAsync(prompt, p);
            var beams = c.GetProperty("beams").EnumerateArray().ToArray();
            string what = $"{name} case {n} (prompt {prompt.Length}, k {k}, lp {p.LengthPenalty}, es {p.EarlyStopping}, min {p.MinTokens})";
            for (int i = 0; i < k; i++)
            {
                int[] tokens = Ints(beams[i].GetProperty("tokens"));
                double score = beams[i].GetProperty("score").GetDouble();
                if (!tokens.SequenceEqual(got[i].TokenIds))
                    failures.Add($"{what}: beam {i}: transformers [{string.Join(",", tokens)}] ({score:F6}), engine [{string.Join(",", got[i].TokenIds)}] ({got[i].Score:F6})");
                else if (Math.Abs(score - got[i].Score) > 1e-4)
                    failures.Add($"{what}: beam {i}: score {got[i].Score:F6} vs transformers {score:F6}");
            }
            n++;
        }
        Assert.True(n > 0, "no cases");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();
}
