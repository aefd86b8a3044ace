using System.Text.Json;
using System.Text.Json.Nodes;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.AI.Sampling;
using PagedAttention.Text.Templates;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.Tests.Models;

/// <summary>
/// The shipped default model (models/default) against goldens written by transformers in the training run
/// (tools/train-tiny/train.py: bf16 weights loaded as float32, CPU, eager attention, greedy, eos ignored).
/// </summary>
public class DefaultModelGoldenTests
{
    private static readonly Lazy<string> ModelDir = new(FindModelDir);

    private static string FindModelDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", "default");
            if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
        }
        throw new DirectoryNotFoundException("models/default not found above " + AppContext.BaseDirectory);
    }

    private static JsonElement Golden()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TestData.Root, "default-model", "golden.json")));
        return doc.RootElement.Clone();
    }

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Golden().GetProperty("cases").EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    private static JsonElement Case(string name) =>
        Golden().GetProperty("cases").EnumerateArray().First(c => c.GetProperty("name").GetString() == name);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task GreedyContinuationMatchesTransformers(string name)
    {
        var c = Case(name);
        int[] prompt = Ints(c.GetProperty("prompt_ids"));
        int[] expected = Ints(c.GetProperty("output_ids"));
        int blocks = (prompt.Length + expected.Length) / 16 + 2;
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir.Value, NumKvBlocks = Math.Max(16, blocks) });
        var got = new List<int>();
        await foreach (var o in engine.GenerateAsync(prompt, new SamplingParams { Temperature = 0, MaxTokens = expected.Length, IgnoreEos = true }))
            got.Add(o.TokenId);
        Assert.True(expected.SequenceEqual(got), $"{name}: expected [{string.Join(",", expected)}] got [{string.Join(",", got)}]");
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void FirstStepTop5LogitsMatchTransformers(string name)
    {
        var c = Case(name);
        int[] prompt = Ints(c.GetProperty("prompt_ids"));
        var top5 = c.GetProperty("first_step_top5");
        int[] ids = Ints(top5.GetProperty("ids"));
        float[] values = top5.GetProperty("logits").EnumerateArray().Select(x => x.GetSingle()).ToArray();

        using var model = LlamaModel.Load(ModelDir.Value);
        int n = prompt.Length;
        int nb = Math.Max(8, (n + 15) / 16);
        using var cache = model.CreateKvCache(numBlocks: nb, blockSize: 16);
        var logits = new float[model.Config.VocabSize];
        var batch = new ForwardBatch(n, 1, nb);
        for (int b = 0; b < nb; b++) batch.BlockTables[b] = nb - 1 - b; // blocks in reverse: the table is honoured
        batch.NumSeqs = 1;
        batch.NumTokens = n;
        batch.QueryStarts[1] = n;
        batch.ContextLens[0] = n;
        for (int i = 0; i < n; i++)
        {
            batch.TokenIds[i] = prompt[i];
            batch.Positions[i] = i;
            batch.SlotMapping[i] = (nb - 1 - i / 16) * 16 + i % 16;
        }
        model.Forward(batch, cache, logits);

        int[] order = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).Take(5).ToArray();
        Assert.Equal(ids, order);
        for (int k = 0; k < 5; k++)
            Assert.True(MathF.Abs(logits[ids[k]] - values[k]) <= 1e-3f, $"{name}: logit of {ids[k]} = {logits[ids[k]]}, transformers {values[k]}");
    }

    [Fact]
    public void TokenizerMatchesTrainingTokenizer()
    {
        var tok = Tokenizer.FromFile(ModelDir.Value);
        Assert.Equal(4096, tok.VocabSize);
        Assert.Equal(0, tok.BosTokenId);
        Assert.Equal(1, tok.EosTokenId);
        var golden = Golden();
        foreach (var t in golden.GetProperty("tokenizer_cases").EnumerateArray())
        {
            string text = t.GetProperty("text").GetString()!;
            Assert.Equal(Ints(t.GetProperty("ids")), tok.Encode(text, addSpecialTokens: false));
            Assert.Equal(Ints(t.GetProperty("ids_with_bos")), tok.Encode(text));
            Assert.Equal(text, tok.Decode(Ints(t.GetProperty("ids"))));
        }
        foreach (var c in golden.GetProperty("cases").EnumerateArray())
        {
            string text = c.GetProperty("prompt_text").GetString()!;
            bool chat = c.TryGetProperty("chat_messages", out _);
            Assert.Equal(Ints(c.GetProperty("prompt_ids")), tok.Encode(text, addSpecialTokens: !chat));
            Assert.Equal(c.GetProperty("output_text").GetString(), tok.Decode(Ints(c.GetProperty("output_ids"))));
        }
    }

    [Fact]
    public void ChatTemplateRendersLikeTransformers()
    {
        var tok = Tokenizer.FromFile(ModelDir.Value);
        Assert.NotNull(tok.ChatTemplate);
        var template = ChatTemplate.Parse(tok.ChatTemplate!);
        foreach (var c in Golden().GetProperty("cases").EnumerateArray())
        {
            if (!c.TryGetProperty("chat_messages", out var messages)) continue;
            var context = new JsonObject
            {
                ["messages"] = JsonNode.Parse(messages.GetRawText()),
                ["add_generation_prompt"] = true,
                ["bos_token"] = tok.BosToken,
                ["eos_token"] = tok.EosToken,
            };
            if (c.TryGetProperty("tools", out var tools)) context["tools"] = JsonNode.Parse(tools.GetRawText());
            Assert.Equal(c.GetProperty("prompt_text").GetString(), template.Render(context));
        }
    }
}
