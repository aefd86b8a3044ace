using PagedAttention.AI.Engine;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;
using static PagedAttention.Tests.Engine.EngineTestKit;

namespace PagedAttention.Tests.Engine;

/// <summary>
/// A token-level choice: the output must be one of <paramref name="choices"/> (token sequences), optionally followed by
/// an end token where a choice is complete and a longer one could still follow. Real, if small: the engine cannot tell
/// it from a grammar matcher, which is the point — these tests pin the engine's side of constrained decoding.
/// </summary>
internal sealed class TokenChoiceConstraint(int[][] choices, int[] endTokens, string description = "the test choice") : ITokenConstraint
{
    private readonly List<int> _done = [];
    private bool _ended;

    public string Description => description;
    public int Masks { get; private set; }

    private bool Extends(int[] c) => c.Length > _done.Count && c.AsSpan(0, _done.Count).SequenceEqual(_done.ToArray());
    private bool Matches(int[] c) => c.AsSpan().SequenceEqual(_done.ToArray());

    public void FillMask(Span<uint> allowed)
    {
        Masks++;
        allowed.Clear();
        foreach (var c in choices)
            if (Extends(c)) allowed[c[_done.Count] >> 5] |= 1u << (c[_done.Count] & 31);
        if (choices.Any(Matches))
            foreach (int t in endTokens) allowed[t >> 5] |= 1u << (t & 31);
    }

    public bool Accept(int token)
    {
        if (_ended) return false;
        if (endTokens.Contains(token) && choices.Any(Matches)) { _ended = true; return true; }
        if (!choices.Any(c => Extends(c) && c[_done.Count] == token)) return false;
        _done.Add(token);
        return true;
    }

    public bool IsComplete => _ended || (choices.Any(Matches) && !choices.Any(Extends));

    public int[] Output => [.. _done];
}

/// <summary>A constraint whose mask allows nothing after <paramref name="after"/> tokens (a grammar dead end).</summary>
internal sealed class DeadEndConstraint(int after) : ITokenConstraint
{
    private int _n;
    public string Description => "the dead-end test grammar";
    public void FillMask(Span<uint> allowed)
    {
        if (_n < after) allowed.Fill(uint.MaxValue);
        else allowed.Clear();
    }
    public bool Accept(int token) { _n++; return true; }
    public bool IsComplete => false;
}

/// <summary>
/// Free (<see cref="ITokenConstraint.ConstrainsNext"/> false) for the first <paramref name="free"/> tokens, then only
/// <paramref name="forced"/> is allowed: an optional tool call before and after its marker.
/// </summary>
internal sealed class LateConstraint(int free, int forced) : ITokenConstraint
{
    private int _n;
    public int MasksWhileFree { get; private set; }
    public int Masks { get; private set; }
    public List<int> Output { get; } = [];
    public string Description => "the late test constraint";
    public bool ConstrainsNext => _n >= free;
    public void FillMask(Span<uint> allowed)
    {
        Masks++;
        if (_n < free) MasksWhileFree++;
        allowed.Clear();
        allowed[forced >> 5] |= 1u << (forced & 31);
    }
    public bool Accept(int token) { Output.Add(token); return _n++ < free || token == forced; }
    public bool IsComplete => false;
}

/// <summary>Allows every token but refuses to accept the second one: a mask/accept disagreement (a matcher bug).</summary>
internal sealed class InconsistentConstraint : ITokenConstraint
{
    private int _n;
    public string Description => "the inconsistent test grammar";
    public void FillMask(Span<uint> allowed) => allowed.Fill(uint.MaxValue);
    public bool Accept(int token) => ++_n < 2;
    public bool IsComplete => false;
}

/// <summary>
/// The engine's side of constrained decoding, on both step strategies: every constrained output follows its
/// constraint (greedy, random, n &gt; 1, under preemption), a complete constraint ends the sequence with Stop,
/// unconstrained neighbours are unchanged, logprobs are those of the masked distribution, and a dead end or a
/// mask/accept disagreement fails only that request with the constraint named, freeing its blocks.
/// </summary>
public sealed class ConstrainedDecodingTests
{
    private const int Eos = 2;

    private static int[][] Choices(int seed, int count = 5, int step = 2)
    {
        var rnd = new Random(seed);
        return Enumerable.Range(0, count).Select(i => Enumerable.Range(0, 3 + i * step).Select(_ => rnd.Next(3, 384)).ToArray()).ToArray();
    }

    private AsyncHostRunner? _runner;

    private async Task<LlmEngine> Engine(bool pipelined, int blocks = 64, int maxSeqs = 16)
    {
        var options = new EngineOptions { ModelPath = TestData.Model("llama"), BlockSize = 4, NumKvBlocks = blocks, MaxNumSeqs = maxSeqs, MaxNumBatchedTokens = 64 };
        if (!pipelined) return await LlmEngine.LoadAsync(options);
        _runner = new AsyncHostRunner(options.ModelPath, blocks, 4, maxSeqs);
        return LlmEngine.Create(_runner, options);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ConstrainedOutputs_AreChoices_EndWithStop_AndNeighboursAreUnchanged(bool pipelined)
    {
        await using var engine = await Engine(pipelined);
        var prompts = Prompts(12);
        // Unconstrained greedy outputs alone, first.
        var alone = new List<int[]>();
        foreach (var p in prompts[..6]) alone.Add(await Tokens(engine, p[..20], Greedy(12)));

        var choices = Choices(1);
        var constraints = new List<TokenChoiceConstraint>();
        Func<ITokenConstraint> factory = () => { var c = new TokenChoiceConstraint(choices, [Eos]); lock (constraints) constraints.Add(c); return c; };
        var constrained = prompts[6..].Select((p, i) => Collect(engine, p[..(10 + i)], new SamplingParams
        {
            Temperature = i % 2 == 0 ? 0 : 1, Seed = i, MaxTokens = 40, N = i % 3 == 0 ? 3 : 1, Constraint = factory,
        })).ToArray();
        var plain = prompts[..6].Select(p => Tokens(engine, p[..20], Greedy(12))).ToArray();
        var outs = await Task.WhenAll(constrained);
        var neighbours = await Task.WhenAll(plain);

        for (int i = 0; i < 6; i++) Assert.Equal(alone[i], neighbours[i]); // constrained neighbours change nothing
        foreach (var o in outs)
            foreach (var seq in o.GroupBy(x => x.SequenceIndex))
            {
                var toks = seq.Select(x => x.TokenId).ToArray();
                Assert.Contains(choices, c => c.SequenceEqual(toks)); // exactly a choice: no end token needed, none after
                Assert.Equal(FinishReason.Stop, seq.Last().FinishReason);
            }
        Assert.Equal(outs.Sum(o => o.GroupBy(x => x.SequenceIndex).Count()), constraints.Count); // one per sequence
        Assert.All(constraints, c => Assert.True(c.IsComplete));
        if (_runner is { } r) Assert.True(r.ConstrainedRows > 0, "the device path should have sampled constrained rows");
        await WaitAllFree(engine);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RowsNotConstrainedYet_AreFlaggedFree_NoMaskIsComputed_AndSampleAsUnconstrained(bool pipelined)
    {
        await using var engine = await Engine(pipelined);
        var prompt = Prompts(1)[0][..16];
        var free = await Tokens(engine, prompt, Greedy(6));
        var c = new LateConstraint(free: 6, forced: 7);
        var outs = await Collect(engine, prompt, new SamplingParams { Temperature = 0, MaxTokens = 10, Constraint = () => c });
        var toks = outs.Select(x => x.TokenId).ToArray();
        Assert.Equal(free, toks[..6]);                   // free rows sample exactly as unconstrained ones
        Assert.All(toks[6..], t => Assert.Equal(7, t));  // then the mask applies
        Assert.Equal(0, c.MasksWhileFree);               // and no mask was asked for while the row was free
        Assert.Equal(4, c.Masks);
        await WaitAllFree(engine);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task UnderPreemption_EveryConstrainedOutputIsStillAChoice(bool pipelined)
    {
        await using var engine = await Engine(pipelined, blocks: 40, maxSeqs: 8);
        var choices = Choices(2, 4, step: 8); // 3 to 27 tokens
        var prompts = Prompts(40, seed: 3); // 41 to 63 tokens, a shared 40-token preamble
        var tasks = prompts.Select((p, i) => Collect(engine, p, new SamplingParams
        {
            Temperature = 1, Seed = i, MaxTokens = 30, IgnoreEos = true, Constraint = () => new TokenChoiceConstraint(choices, []),
        })).ToArray();
        var outs = await Task.WhenAll(tasks);
        foreach (var o in outs) Assert.Contains(choices, c => c.SequenceEqual(o.Select(x => x.TokenId)));
        Assert.True(engine.GetMetrics().Preemptions > 0, "the tiny pool should preempt");
        await WaitAllFree(engine);
    }

    [Fact]
    public async Task EndTokens_AreAllowedOnlyWhereTheConstraintMayEnd()
    {
        // Choices where one is a prefix of another: after the short one, the model may end (EOS) or go on.
        await using var engine = await Engine(false);
        int[][] choices = [[10, 11], [10, 11, 12, 13]];
        for (int seed = 0; seed < 20; seed++)
        {
            var o = await Collect(engine, [5, 6, 7, 8], new SamplingParams { Temperature = 1.5f, Seed = seed, MaxTokens = 10, Constraint = () => new TokenChoiceConstraint(choices, [Eos]) });
            var toks = o.Select(x => x.TokenId).ToArray();
            Assert.True(toks.SequenceEqual([10, 11, Eos]) || toks.SequenceEqual([10, 11, 12, 13]), string.Join(",", toks));
            Assert.Equal(FinishReason.Stop, o[^1].FinishReason);
        }
    }

    [Fact]
    public async Task Logprobs_OfAConstrainedRow_AreOverTheAllowedTokens()
    {
        await using var engine = await Engine(false);
        int[][] choices = [[20, 30], [21, 31], [22, 32]];
        var o = await Collect(engine, [5, 6, 7], new SamplingParams { Temperature = 0, MaxTokens = 5, Logprobs = 5, Constraint = () => new TokenChoiceConstraint(choices, []) });
        var first = o[0].TopLogprobs!.Where(t => float.IsFinite(t.Logprob)).ToArray();
        Assert.Equal([20, 21, 22], first.Select(t => t.TokenId).Order());
        Assert.Equal(1.0, first.Sum(t => Math.Exp(t.Logprob)), 3);
        Assert.Equal(first[0].TokenId, o[0].TokenId); // greedy: the best allowed
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DeadEndOrInconsistentConstraint_FailsThatRequestAlone(bool pipelined)
    {
        await using var engine = await Engine(pipelined);
        var good = Collect(engine, [9, 10, 11], Greedy(10));
        var dead = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Collect(engine, [5, 6, 7], new SamplingParams { Temperature = 0, MaxTokens = 10, IgnoreEos = true, Constraint = () => new DeadEndConstraint(3) }));
        Assert.Contains("dead-end test grammar", dead.Message);
        Assert.Contains("allows no token", dead.Message);
        var bad = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Collect(engine, [5, 6, 8], new SamplingParams { Temperature = 0, MaxTokens = 10, IgnoreEos = true, Constraint = () => new InconsistentConstraint() }));
        Assert.Contains("inconsistent test grammar", bad.Message);
        Assert.Equal(10, (await good).Count);
        Assert.Null(engine.LoopFailure);
        await WaitAllFree(engine);
    }
}
