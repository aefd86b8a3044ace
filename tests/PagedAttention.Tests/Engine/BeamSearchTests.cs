using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;

using static PagedAttention.Tests.Engine.EngineTestKit;

namespace PagedAttention.Tests.Engine;

/// <summary>
/// Beam search on shared blocks (issue 21, item 3): the engine's beams (forked block tables, copy on write, batched with
/// other requests, preempted) against a naive beam search that recomputes every beam's whole sequence each step.
/// </summary>
public class BeamSearchTests
{
    private static readonly string ModelDir = TestData.Model("llama");

    internal static SamplingParams Beam(int k, int max = 10, float lp = 1f, BeamEarlyStopping es = BeamEarlyStopping.Heuristic, int n = 1, int[]? stop = null, int min = 0) =>
        new() { BeamWidth = k, N = n, MaxTokens = max, LengthPenalty = lp, EarlyStopping = es, StopTokenIds = stop ?? [], MinTokens = min, Temperature = 0 };

    /// <summary>The same search with each beam's logits from a fresh forward pass over its whole sequence (no cache, no sharing).</summary>
    internal static List<(int[] Tokens, float Score)> Naive(string modelDir, int[] prompt, SamplingParams p, int[] eos)
    {
        using var model = LlamaModel.Load(modelDir);
        int vocab = model.Config.VocabSize, maxLen = prompt.Length + p.MaxTokens;
        int blocks = (maxLen + 15) / 16;
        using var cache = model.CreateKvCache(blocks, 16);
        var end = p.IgnoreEos ? p.StopTokenIds.ToList() : eos.Concat(p.StopTokenIds).Distinct().ToList();
        var search = new BeamSearcher(p.BeamWidth, p.LengthPenalty, p.EarlyStopping, p.MaxTokens, p.MinTokens, end.ToArray(), vocab);
        var beams = Enumerable.Range(0, p.BeamWidth).Select(_ => new List<int>()).ToList();
        var logits = new float[p.BeamWidth * vocab];
        while (!search.IsDone)
        {
            for (int j = 0; j < p.BeamWidth; j++)
            {
                int[] seq = [.. prompt, .. beams[j]];
                var batch = new ForwardBatch(seq.Length, 1, blocks);
                for (int b = 0; b < blocks; b++) batch.BlockTables[b] = b;
                batch.NumSeqs = 1;
                batch.NumTokens = seq.Length;
                batch.QueryStarts[1] = seq.Length;
                batch.ContextLens[0] = seq.Length;
                for (int i = 0; i < seq.Length; i++) { batch.TokenIds[i] = seq[i]; batch.Positions[i] = i; batch.SlotMapping[i] = i; }
                model.Forward(batch, cache, logits.AsSpan(j * vocab, vocab));
            }
            var snapshot = beams.Select(b => b.ToArray()).ToArray();
            search.Step(logits, j => snapshot[j]);
            for (int j = 0; j < p.BeamWidth; j++) beams[j] = [.. snapshot[search.Parent[j]], search.Token[j]];
        }
        return Enumerable.Range(0, p.BeamWidth).Select(i => (search.HypothesisTokens(i).ToArray(), search.Hypothesis(i).Score)).ToList();
    }

    private static Task<LlmEngine> Load(int blocks = 256, int maxSeqs = 32, int budget = 256, bool prefix = true) =>
        LlmEngine.LoadAsync(new EngineOptions { ModelPath = ModelDir, NumKvBlocks = blocks, MaxNumSeqs = maxSeqs, MaxNumBatchedTokens = budget, EnablePrefixCaching = prefix });

    private static void AssertSame(List<(int[] Tokens, float Score)> expected, IReadOnlyList<BeamHypothesis> got, string what)
    {
        Assert.Equal(expected.Count, got.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].Tokens.SequenceEqual(got[i].TokenIds), $"{what}: beam {i}: [{string.Join(",", expected[i].Tokens)}] vs [{string.Join(",", got[i].TokenIds)}]");
            Assert.True(Math.Abs(expected[i].Score - got[i].Score) <= 1e-5, $"{what}: beam {i} score {expected[i].Score} vs {got[i].Score}");
        }
    }

    public static TheoryData<int, float, BeamEarlyStopping, int> Cases => new()
    {
        { 4, 1f, BeamEarlyStopping.Heuristic, 0 },
        { 4, 2f, BeamEarlyStopping.WhenFull, 2 },
        { 8, 0.5f, BeamEarlyStopping.Never, 0 },
        { 8, -1f, BeamEarlyStopping.Heuristic, 1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Engine_EqualsNaiveRecompute_AloneAndBatchedWithOtherRequests(int k, float lp, BeamEarlyStopping es, int min)
    {
        var prompts = Prompts(6, seed: 3);
        var eos = new[] { 2 };
        // An extra end token from the greedy path so that beams actually end early.
        await using var e = await Load();
        e.VerifyInvariants = true;
        var greedy = await Tokens(e, prompts[0], Greedy(12));
        var p = Beam(k, 10, lp, es, stop: [greedy[2]], min: min);
        var expected = Naive(ModelDir, prompts[0], p, eos);
        if (k == 4 && lp == 1f) Assert.Contains(expected, h => h.Tokens.Length < 10); // here some beam ends on an end token

        var alone = await e.BeamSearchAsync(prompts[0], p);
        AssertSame(expected, alone, "alone");
        Assert.All(alone, h => Assert.Equal(h.TokenIds[^1] == greedy[2] || h.TokenIds[^1] == 2 ? FinishReason.Stop : FinishReason.Length, h.FinishReason));

        // Batched with greedy requests and a second beam search: everyone's output is unchanged.
        var others = prompts.Skip(1).Select(q => Tokens(e, q, Greedy(12))).ToArray();
        var expectedOthers = new List<int[]>();
        await using (var plain = await Load()) foreach (var q in prompts.Skip(1)) expectedOthers.Add(await Tokens(plain, q, Greedy(12)));
        var batched = e.BeamSearchAsync(prompts[0], p);
        var second = e.BeamSearchAsync(prompts[1], Beam(4, 8));
        AssertSame(expected, await batched, "batched");
        AssertSame(Naive(ModelDir, prompts[1], Beam(4, 8), eos), await second, "second beam request");
        for (int i = 0; i < others.Length; i++) Assert.Equal(expectedOthers[i], await others[i]);
        await WaitAllFree(e);
        Assert.Null(e.LoopFailure);
    }

    [Fact]
    public async Task Beams_ShareBlocks_CopyOnWrite_UnderPreemption_AndPromptHitsThePrefixCache()
    {
        var prompt = Prompts(1, seed: 4)[0]; // 41 tokens: the last prompt block is partial, so forks copy it on write
        var p = new SamplingParams { BeamWidth = 8, N = 8, MaxTokens = 12, EarlyStopping = BeamEarlyStopping.Never, IgnoreEos = true };
        var expected = Naive(ModelDir, prompt, p, [2]);

        // A pool that holds the beams but not also four greedy requests: beams and others are preempted and recomputed.
        await using var tight = await Load(blocks: 34, maxSeqs: 16, budget: 64);
        tight.VerifyInvariants = true;
        var others = Prompts(6, seed: 9).Select(q => Tokens(tight, q, Greedy(100))).ToArray();
        var search = tight.BeamSearchAsync(prompt, p);
        AssertSame(expected, await search, "under preemption");
        foreach (var o in others) await o;
        var m = tight.GetMetrics();
        Assert.True(m.Preemptions > 0, m.ToString());
        Assert.True(m.KvBlocksCopied > 0, m.ToString());
        await WaitAllFree(tight);

        // The prompt of a repeated search comes from the prefix cache; the streamed outputs are the N best beams.
        AssertSame(expected, await tight.BeamSearchAsync(prompt, p), "after the others");
        var outputs = await Collect(tight, prompt, p);
        Assert.Equal((prompt.Length - 1) / 16 * 16, outputs[0].CachedTokens);
        for (int r = 0; r < 8; r++)
        {
            var beam = outputs.Where(o => o.SequenceIndex == r).ToList();
            Assert.Equal(expected[r].Tokens, beam.Select(o => o.TokenId));
            Assert.Equal(Enumerable.Range(0, beam.Count), beam.Select(o => o.Index));
            Assert.All(beam, o => Assert.Equal(expected[r].Score, o.BeamScore!.Value, 5));
            Assert.Equal(FinishReason.Length, beam[^1].FinishReason);
        }
        await WaitAllFree(tight);
        Assert.Null(tight.LoopFailure);
    }

    [Fact]
    public async Task Pipelined_EqualsSynchronous_AndCancellationFreesBlocks()
    {
        var prompt = Prompts(1, seed: 5)[0];
        var p = Beam(4, 10, n: 2);
        var expected = Naive(ModelDir, prompt, p, [2]);
        var runner = new AsyncHostRunner(ModelDir, 128, 16, 16);
        await using var e = LlmEngine.Create(runner, new EngineOptions { ModelPath = ModelDir, MaxNumSeqs = 16, MaxNumBatchedTokens = 128 });
        e.VerifyInvariants = true;
        var others = Prompts(5, seed: 8).Select(q => Tokens(e, q, Greedy(16))).ToArray();
        AssertSame(expected, await e.BeamSearchAsync(prompt, p), "pipelined");
        foreach (var o in others) await o;

        // Cancelled from the loop after a few steps of the search (a timer would race a fast machine).
        using var cts = new CancellationTokenSource();
        int steps = 0;
        e.AfterStep = _ => { if (++steps == 3) cts.Cancel(); };
        var run = e.BeamSearchAsync(prompt, new SamplingParams { BeamWidth = 8, MaxTokens = 100, IgnoreEos = true, EarlyStopping = BeamEarlyStopping.Never }, cts.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        await WaitAllFree(e);
        Assert.Null(e.LoopFailure);
    }

    [Fact]
    public async Task ChatClient_BeamWidth_ReturnsTheBestBeam()
    {
        await using var e = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = PagedAttention.Tests.Chat.ChatClientTests.DefaultModel, NumKvBlocks = 256, MaxNumSeqs = 8 });
        using var client = new PagedAttention.AI.PagedAttentionChatClient(e);
        var messages = new List<Microsoft.Extensions.AI.ChatMessage> { new(Microsoft.Extensions.AI.ChatRole.User, "Name three colours.") };
        var options = new Microsoft.Extensions.AI.ChatOptions
        {
            MaxOutputTokens = 12,
            AdditionalProperties = new() { ["beam_width"] = 4, ["length_penalty"] = 0.5, ["early_stopping"] = "never" },
        };
        var response = await client.GetResponseAsync(messages, options);
        var (_, ids) = client.BuildPrompt(messages, null);
        var beams = await e.BeamSearchAsync(ids, new SamplingParams { BeamWidth = 4, MaxTokens = 12, LengthPenalty = 0.5f, EarlyStopping = BeamEarlyStopping.Never, StopTokenIds = [] });
        Assert.Equal(beams[0].Text, response.Text);
        Assert.Equal(beams[0].TokenIds.Count, (int)response.Usage!.OutputTokenCount!);
        Assert.True(beams[0].Score >= beams[^1].Score);

        options.AdditionalProperties["early_stopping"] = "sometimes";
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetResponseAsync(messages, options));
    }

    [Fact]
    public async Task BadBeamRequests_AreRefused()
    {
        await using var e = await Load(blocks: 24, maxSeqs: 8);
        var prompt = Prompts(1)[0];
        await Assert.ThrowsAsync<ArgumentException>(() => e.BeamSearchAsync(prompt, new SamplingParams { MaxTokens = 4 }));
        await Assert.ThrowsAsync<ArgumentException>(() => e.BeamSearchAsync(prompt, Beam(16, 4)));                   // > MaxNumSeqs
        await Assert.ThrowsAsync<ArgumentException>(() => e.BeamSearchAsync(prompt, Beam(8, 100)));                 // 8 beams x 9 blocks > 24
        await Assert.ThrowsAsync<ArgumentException>(() => e.BeamSearchAsync(prompt, Beam(4, 4, n: 5)));
        await Assert.ThrowsAsync<ArgumentException>(() => e.BeamSearchAsync(prompt, new SamplingParams { BeamWidth = 4, MaxTokens = 4, RepetitionPenalty = 1.2f }));
        await Assert.ThrowsAsync<ArgumentException>(() => e.BeamSearchAsync(prompt, new SamplingParams { BeamWidth = 4, MaxTokens = 4, Logprobs = 2 }));
        await Assert.ThrowsAsync<ArgumentException>(() => e.BeamSearchAsync(prompt, new SamplingParams { BeamWidth = 4, MaxTokens = 4, StopStrings = ["x"] }));
        await Assert.ThrowsAsync<ArgumentException>(() => e.BeamSearchAsync(prompt, new SamplingParams { BeamWidth = 4, MaxTokens = 4, LengthPenalty = float.NaN }));
        await Assert.ThrowsAsync<ArgumentException>(() => e.BeamSearchAsync(prompt, new SamplingParams { BeamWidth = 65, MaxTokens = 4 }));
    }
}
