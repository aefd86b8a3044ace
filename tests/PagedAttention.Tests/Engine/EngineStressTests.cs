using System.Diagnostics;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;
using Xunit.Abstractions;

namespace PagedAttention.Tests.Engine;

/// <summary>
/// Randomized end-to-end load on the tiny checkpoint: 2,000 requests with random prompt/output lengths and n, arriving
/// in random bursts while the engine runs, sharing prefixes (prefix cache on), on a pool small enough that sequences
/// are preempted all the time, with random cancellations and abandoned enumerators. The loop checks the scheduler's
/// and block pool's invariants after every step. Seeded: a failure reproduces with the same seed.
/// </summary>
public class EngineStressTests(ITestOutputHelper log)
{
    private const int Vocab = 384;
    private const int Eos = 2;
    private const int MaxOut = 12;

    private enum Mode { Complete, CancelAfterOutputs, CancelAfterTime, Abandon }

    private sealed record Request(int Id, int[] Prompt, SamplingParams Params, Mode Mode, int StopAfter, int CancelMs)
    {
        public bool Greedy => Params.Temperature == 0 && Params.BeamWidth == 1;

        public bool Beam => Params.BeamWidth > 1;
    }

    private sealed class Result
    {
        public List<GenerationOutput> Outputs { get; } = new();
        public bool EndedEarly { get; set; }
        public Exception? Error { get; set; }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)] // the pipelined step of asynchronous devices (AsyncHostRunner)
    [InlineData(false, true)] // + swap preemption, the prefix cache's host tier, beam searches and a pinned preamble (issue 21)
    [InlineData(true, true)]
    public async Task RandomLoad_WithPreemption_PrefixSharing_CancellationAndN_EndsConsistent(bool pipelined, bool extended)
    {
        const int seed = 20240611;
        var rnd = new Random(seed);
        var (requests, preambles) = MakeRequests(rnd, 2000, extended);
        var sw = Stopwatch.StartNew();

        var options = new EngineOptions
        {
            ModelPath = TestData.Model("llama"),
            BlockSize = 4,
            NumKvBlocks = 40,
            MaxNumSeqs = 16,
            MaxNumBatchedTokens = 48,
            LongPrefillTokenThreshold = 16,
            EnablePrefixCaching = true,
            SwapSpaceBytes = extended ? 48 << 10 : 0, // 24 host blocks of the tiny model's 2 KiB blocks
            HostCacheBytes = extended ? 32 << 10 : 0, // and a 16-block host tier of the prefix cache
        };
        var engine = pipelined
            ? LlmEngine.Create(new AsyncHostRunner(options.ModelPath, 40, 4, 16), options)
            : await LlmEngine.LoadAsync(options);
        engine.VerifyInvariants = true;
        // A pinned preamble (four of the 40 blocks) for the whole run: never evicted, released at the end.
        var pin = extended ? await engine.PinPrefixAsync(preambles[4]) : null;
        var results = new Result[requests.Length];
        var tasks = new List<Task>(requests.Length);
        EngineMetrics end;
        try
        {
            // Submit in random bursts; between bursts wait a random number of engine steps (or until it is idle).
            for (int i = 0; i < requests.Length;)
            {
                int burst = rnd.Next(1, 25);
                for (int b = 0; b < burst && i < requests.Length; b++, i++)
                {
                    results[i] = new Result();
                    tasks.Add(Consume(engine, requests[i], results[i]));
                }
                long target = engine.GetMetrics().Steps + rnd.Next(0, 12);
                while (engine.GetMetrics() is { } m && m.Steps < target && m.Running + m.Waiting > 0 && engine.LoopFailure is null)
                    await Task.Delay(1);
            }
            PagedAttention.AI.Scheduling.Scheduler<EngineSequence>? sched = null;
            engine.AfterStep = x => sched = x;
            try { await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(120)); }
            catch (TimeoutException) // say what is stuck where
            {
                var x = sched!;
                log.WriteLine($"HANG {engine.LoopFailure} {engine.GetMetrics()} free {x.Kv.Pool.NumFree} host {x.Kv.Host?.NumFree}");
                foreach (var q in x.Running.Select(q => ("R", q)).Concat(x.Waiting.Select(q => ("W", q))).Concat(x.Swapped.Select(q => ("S", q))))
                    log.WriteLine($"{q.Item1} {q.Item2} beam={q.Item2.Beam is not null} blocks={q.Item2.Table.Count} host={q.Item2.Table.NumHostBlocks} ph={q.Item2.HasPlaceholder} arr={q.Item2.ArrivalOrder}");
                for (int t = 0; t < tasks.Count; t++)
                    if (!tasks[t].IsCompleted) log.WriteLine($"open {t}: prompt {requests[t].Prompt.Length} k {requests[t].Params.BeamWidth} n {requests[t].Params.N} max {requests[t].Params.MaxTokens} es {requests[t].Params.EarlyStopping} lp {requests[t].Params.LengthPenalty} mode {requests[t].Mode} outs {results[t].Outputs.Count}");
                throw;
            }
            if (pin is not null)
            {
                Assert.True(pin.IsPinned && pin.NumBlocks == 4, pin.ToString());
                Assert.Equal(4, engine.GetMetrics().KvBlocksPinned);
                await pin.DisposeAsync();
            }
            end = await EngineTestKit.WaitIdle(engine, 1000);
        }
        finally
        {
            await engine.DisposeAsync();
        }
        Assert.Null(engine.LoopFailure); // includes the invariant checks after every step and at idle
        log.WriteLine($"stress: {requests.Length} requests in {sw.Elapsed.TotalSeconds:F1} s; {end}");

        // The pool is whole again and the run exercised what it is meant to.
        Assert.Equal(end.KvBlocksTotal, end.KvBlocksFree);
        Assert.Equal(end.HostBlocksTotal, end.HostBlocksFree);
        Assert.Equal(0, end.KvBlocksPinned);
        if (extended) Assert.True(end.SwapOuts > 20 && end.SwapIns > 0 && end.KvBlocksCopied > 0 && end.HostTierHitTokens > 0, $"swaps, copies on write and host-tier hits expected: {end}");
        Assert.Equal(0, end.Running);
        Assert.Equal(0, end.Waiting);
        Assert.True(end.Preemptions > 50, $"the tiny pool should preempt often: {end}");
        Assert.True(end.PrefixHitTokens > 1000, $"shared prefixes should hit the cache: {end}");

        int completed = 0, endedEarly = 0;
        for (int i = 0; i < requests.Length; i++)
        {
            var r = requests[i];
            var res = results[i];
            if (res.Error is not null && res.Error is not OperationCanceledException)
                Assert.Fail($"request {i} failed: {res.Error}");
            bool cut = res.EndedEarly || res.Error is OperationCanceledException;
            if (cut) endedEarly++;
            else completed++;
            for (int s = 0; s < r.Params.N; s++)
            {
                var outs = res.Outputs.Where(o => o.SequenceIndex == s).ToList();
                if (r.Beam)
                {
                    // Beams arrive when the search ends, best first; each ends with a reason.
                    Assert.Equal(Enumerable.Range(0, outs.Count), outs.Select(o => o.Index));
                    Assert.True(outs.Count <= r.Params.MaxTokens);
                    if (!cut) Assert.True(outs.Count > 0 && outs[^1].FinishReason is not null, $"beam request {i} seq {s}");
                    continue;
                }
                Assert.Equal(Enumerable.Range(0, outs.Count), outs.Select(o => o.Index)); // in order, none lost or repeated
                Assert.True(outs.Count <= r.Params.MaxTokens);
                Assert.All(outs.SkipLast(1), o => Assert.Null(o.FinishReason));
                if (cut) continue;
                if (r.Params.IgnoreEos)
                {
                    Assert.True(outs.Count == r.Params.MaxTokens, $"request {i} seq {s}: {outs.Count} of {r.Params.MaxTokens} tokens");
                    Assert.Equal(FinishReason.Length, outs[^1].FinishReason);
                }
                else
                {
                    Assert.NotEmpty(outs);
                    bool eos = outs[^1].TokenId == Eos;
                    Assert.Equal(eos ? FinishReason.Stop : FinishReason.Length, outs[^1].FinishReason);
                    if (!eos) Assert.Equal(r.Params.MaxTokens, outs.Count);
                }
            }
        }
        Assert.True(completed > requests.Length / 2 && endedEarly > 200, $"completed {completed}, ended early {endedEarly}");

        // Greedy outputs (also the tokens a cut request got before it ended) equal the prompt's output computed alone.
        var sample = Enumerable.Range(0, requests.Length).Where(i => requests[i].Greedy).Where((_, k) => k % 12 == 0).ToList();
        var beamSample = Enumerable.Range(0, requests.Length).Where(i => requests[i].Beam).ToList();
        var beamReference = new Dictionary<int, List<GenerationOutput>>();
        var reference = new Dictionary<string, int[]>();
        await using (var alone = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = TestData.Model("llama"), BlockSize = 4, NumKvBlocks = 64, EnablePrefixCaching = false }))
        {
            foreach (int i in sample)
            {
                string key = string.Join(',', requests[i].Prompt);
                if (reference.ContainsKey(key)) continue;
                var toks = new List<int>();
                await foreach (var o in alone.GenerateAsync(requests[i].Prompt, new SamplingParams { Temperature = 0, MaxTokens = MaxOut, IgnoreEos = true }))
                    toks.Add(o.TokenId);
                reference[key] = toks.ToArray();
            }
            foreach (int i in beamSample)
            {
                var outs = new List<GenerationOutput>();
                await foreach (var o in alone.GenerateAsync(requests[i].Prompt, requests[i].Params)) outs.Add(o);
                beamReference[i] = outs;
            }
        }
        // Beam searches (also the beams a cut request got before it ended) equal the same search alone.
        foreach (int i in beamSample)
            for (int s = 0; s < requests[i].Params.N; s++)
            {
                var got = results[i].Outputs.Where(o => o.SequenceIndex == s).Select(o => o.TokenId).ToArray();
                var expected = beamReference[i].Where(o => o.SequenceIndex == s).Select(o => o.TokenId).ToArray();
                Assert.True(expected.AsSpan(0, got.Length).SequenceEqual(got), $"beam request {i} beam {s}: [{string.Join(',', got)}] vs alone [{string.Join(',', expected)}]");
            }
        if (extended) Assert.True(beamSample.Count > 50, $"{beamSample.Count} beam requests");
        int checkedSeqs = 0;
        foreach (int i in sample)
        {
            var r = requests[i];
            var expected = reference[string.Join(',', r.Prompt)];
            for (int s = 0; s < r.Params.N; s++)
            {
                var got = results[i].Outputs.Where(o => o.SequenceIndex == s).Select(o => o.TokenId).ToArray();
                Assert.True(expected.AsSpan(0, got.Length).SequenceEqual(got),
                    $"request {i} seq {s} (mode {r.Mode}, prompt {r.Prompt.Length} tokens): [{string.Join(',', got)}] vs alone [{string.Join(',', expected)}]");
                checkedSeqs++;
            }
        }
        log.WriteLine($"completed {completed}, ended early {endedEarly}, greedy sequences checked against solo runs {checkedSeqs} ({reference.Count} prompts); total {sw.Elapsed.TotalSeconds:F1} s");
        Assert.True(checkedSeqs >= 100);
    }

    private static (Request[] Requests, int[][] Preambles) MakeRequests(Random rnd, int count, bool extended)
    {
        // A few shared preambles (some block-aligned, some not) so that requests hit, wait on, and evict cached prefixes.
        var prefixes = new[] { 4, 7, 8, 12, 16, 19 }.Select(n => RandomTokens(rnd, n)).ToArray();
        var list = new Request[count];
        for (int i = 0; i < count; i++)
        {
            int[] prompt;
            if (i > 0 && rnd.NextDouble() < 0.1) prompt = list[rnd.Next(i)].Prompt; // an identical earlier prompt
            else
            {
                var prefix = rnd.NextDouble() < 0.85 ? prefixes[rnd.Next(prefixes.Length)] : [];
                prompt = [.. prefix, .. RandomTokens(rnd, rnd.Next(prefix.Length == 0 ? 1 : 0, 13))];
                if (prompt.Length == 0) prompt = RandomTokens(rnd, 1);
            }
            double u = rnd.NextDouble();
            int n = u < 0.8 ? 1 : u < 0.95 ? 2 : 3;
            bool greedy = rnd.NextDouble() < 0.85;
            var p = new SamplingParams
            {
                MaxTokens = rnd.Next(1, MaxOut + 1),
                N = n,
                Temperature = greedy ? 0 : 0.8f,
                TopP = greedy ? 1 : 0.95f,
                Seed = greedy ? null : rnd.Next(),
                IgnoreEos = rnd.NextDouble() < 0.9,
            };
            u = rnd.NextDouble();
            var mode = u < 0.7 ? Mode.Complete : u < 0.85 ? Mode.CancelAfterOutputs : u < 0.9 ? Mode.CancelAfterTime : Mode.Abandon;
            if (extended && rnd.NextDouble() < 0.08)
            {
                // A beam search of width 2 or 3 (k × its blocks must fit the 40-block pool).
                int k = rnd.Next(2, 4);
                p = new SamplingParams
                {
                    BeamWidth = k,
                    N = rnd.Next(1, k + 1),
                    MaxTokens = p.MaxTokens,
                    IgnoreEos = p.IgnoreEos,
                    LengthPenalty = rnd.Next(0, 3) * 0.5f,
                    EarlyStopping = (BeamEarlyStopping)rnd.Next(0, 3),
                };
            }
            list[i] = new Request(i, prompt, p, mode, rnd.Next(0, p.MaxTokens * p.N), rnd.Next(0, 4));
        }
        return (list, prefixes);
    }

    private static int[] RandomTokens(Random rnd, int n) => Enumerable.Range(0, n).Select(_ => rnd.Next(3, Vocab)).ToArray();

    private static async Task Consume(LlmEngine engine, Request r, Result res)
    {
        await Task.Yield();
        using var cts = new CancellationTokenSource();
        if (r.Mode == Mode.CancelAfterTime) cts.CancelAfter(r.CancelMs);
        if (r.Mode == Mode.CancelAfterOutputs && r.StopAfter == 0) cts.Cancel(); // cancelled before it starts
        try
        {
            await foreach (var o in engine.GenerateAsync(r.Prompt, r.Params, cts.Token))
            {
                res.Outputs.Add(o);
                if (res.Outputs.Count == r.StopAfter)
                {
                    if (r.Mode == Mode.Abandon) { res.EndedEarly = true; break; }
                    if (r.Mode == Mode.CancelAfterOutputs) cts.Cancel();
                }
            }
        }
        catch (Exception ex)
        {
            res.Error = ex;
        }
    }
}
