using PagedAttention.AI.Models;
using PagedAttention.AI.Sampling;

namespace PagedAttention.Tests.Engine;

/// <summary>
/// A test runner that behaves like the CUDA runner towards the engine (a device sampler, <see cref="IModelRunner.LaunchSample"/>
/// then <see cref="IModelRunner.WaitSample"/>) but computes on the CPU, so the engine's pipelined step (step N+1
/// scheduled while step N is in flight) runs in CI. The whole step is computed at launch from the batch as it is
/// then, as a GPU would have copied it; greedy rows take the argmax (lowest index on ties), others go through the
/// host <see cref="Sampler"/> seeded from the row's (key, step).
/// </summary>
internal sealed class AsyncHostRunner : IModelRunner, IDeviceSampler
{
    private readonly CpuModelRunner _inner;
    private readonly int _vocab;
    private readonly Sampler _sampler;
    private readonly float[] _logits;
    private readonly int[] _tokens;
    private readonly Row?[] _rows;
    private readonly ITokenConstraint?[] _constraints;
    private readonly uint[] _mask;
    private int _pending = -1;

    private sealed record Row(SamplingRow Params, ulong Key, int Step, int[] Prompt, int[] Output, int[] EndTokenIds);

    public AsyncHostRunner(string modelDir, int numBlocks, int blockSize, int maxSeqs)
    {
        var model = LlamaModel.Load(modelDir);
        _inner = new CpuModelRunner(model, numBlocks, blockSize);
        _vocab = model.Config.VocabSize;
        _sampler = new Sampler(_vocab);
        _logits = new float[maxSeqs * _vocab];
        _tokens = new int[maxSeqs];
        _rows = new Row?[maxSeqs];
        _constraints = new ITokenConstraint?[maxSeqs];
        _mask = new uint[Sampler.MaskWords(_vocab)];
    }

    /// <summary>Constrained rows sampled so far (their masks computed at launch, as the CUDA sampler does).</summary>
    public int ConstrainedRows { get; private set; }

    private volatile int _launches, _failAtSeqs;
    private bool _failThisWait;

    /// <summary>Steps launched so far.</summary>
    public int Launches => _launches;

    /// <summary>Steps wait while this is reset (lets a test line up requests before a step runs, or hold the engine mid-request).</summary>
    public ManualResetEventSlim Gate { get; } = new(true);

    /// <summary>When set, each step takes one permit first (a test decides exactly how many steps may run).</summary>
    public SemaphoreSlim? StepPermits { get; init; }

    private void Hold()
    {
        Gate.Wait();
        StepPermits?.Wait();
    }

    /// <summary>
    /// When positive, the wait for the first launch with at least this many sequences throws, as a failed GPU step
    /// would (once; then it is reset to 0).
    /// </summary>
    public int FailFirstStepWithSeqs { get => _failAtSeqs; set => _failAtSeqs = value; }

    public IDecoderModel Model => _inner.Model;
    public string Device => "cpu-async";
    public int NumKvBlocks => _inner.NumKvBlocks;
    public int BlockSize => _inner.BlockSize;

    public void CopyBlocks(ReadOnlySpan<int> srcDst) => _inner.CopyBlocks(srcDst); // the step in flight was computed at launch

    public long KvBytesPerBlock => _inner.KvBytesPerBlock;

    public void AllocateSwapSpace(int numBlocks) => _inner.AllocateSwapSpace(numBlocks);

    public void SwapOut(ReadOnlySpan<int> deviceHost) => _inner.SwapOut(deviceHost);

    public void SwapIn(ReadOnlySpan<int> hostDevice) => _inner.SwapIn(hostDevice);

    /// <summary>What <see cref="IModelRunner.SwapCopySeconds"/> reports (as a device that times its copies would); null: the CPU's own (none).</summary>
    public double? ReportedSwapCopySeconds { get; init; }

    public double? SwapCopySeconds => ReportedSwapCopySeconds;
    public IDeviceSampler? DeviceSampler => this;
    public bool CanLaunchAsync => !Synchronous;

    /// <summary>When set before the engine is created, the engine takes its synchronous step (as on the CPU runner).</summary>
    public bool Synchronous { get; init; }

    public void Forward(ForwardBatch batch, Span<float> logits)
    {
        Hold();
        _inner.Forward(batch, logits);
    }

    public void ForwardSample(ForwardBatch batch, Span<int> tokens, Span<float> logits, ReadOnlySpan<int> logitRows)
    {
        Hold();
        Compute(batch);
        _tokens.AsSpan(0, batch.NumSeqs).CopyTo(tokens);
        // As a GPU would: only the listed rows come back. The others are poisoned, so an engine that samples a row it
        // did not ask for gets NaN logits (and fails the test) instead of silently reading a stale row.
        logits.Slice(0, Math.Min(logits.Length, batch.NumSeqs * _vocab)).Fill(float.NaN);
        foreach (int row in logitRows) _logits.AsSpan(row * _vocab, _vocab).CopyTo(logits.Slice(row * _vocab, _vocab));
        LogitRowsCopied += logitRows.Length;
    }

    /// <summary>Logit rows <see cref="ForwardSample"/> has copied to the host so far.</summary>
    public int LogitRowsCopied { get; private set; }

    public void LaunchSample(ForwardBatch batch)
    {
        Hold();
        if (_pending >= 0) throw new InvalidOperationException("The previous step was not waited for.");
        for (int t = 0; t < batch.NumTokens; t++)
            if ((uint)batch.TokenIds[t] >= (uint)_vocab) throw new InvalidOperationException($"Launched with token id {batch.TokenIds[t]} at row token {t}.");
        Compute(batch);
        _pending = batch.NumSeqs;
        _launches++;
        if (_failAtSeqs > 0 && batch.NumSeqs >= _failAtSeqs)
        {
            _failAtSeqs = 0;
            _failThisWait = true;
        }
    }

    public void WaitSample(Span<int> tokens)
    {
        if (_pending < 0) throw new InvalidOperationException("Nothing in flight.");
        int n = _pending;
        _pending = -1;
        if (_failThisWait)
        {
            _failThisWait = false;
            throw new InvalidOperationException("injected step failure");
        }
        _tokens.AsSpan(0, n).CopyTo(tokens);
    }

    private void Compute(ForwardBatch batch)
    {
        _inner.Forward(batch, _logits);
        for (int r = 0; r < batch.NumSeqs; r++)
        {
            var logits = _logits.AsSpan(r * _vocab, _vocab);
            if (_constraints[r] is { } c)
            {
                // As the CUDA sampler: the mask is computed at launch; a mask that allows nothing gives the empty-mask id.
                ConstrainedRows++;
                var p = _rows[r] ?? new Row(new SamplingRow { Temperature = 0, TopP = 1, RepetitionPenalty = 1 }, 0, 0, [], [], []);
                var crng = new SamplingRng((long)p.Key, p.Step);
                c.FillMask(_mask);
                try { _tokens[r] = _sampler.Sample(logits.ToArray(), p.Params, p.Prompt, p.Output, p.EndTokenIds, _mask, ref crng, [], out _); }
                catch (InvalidOperationException) { _tokens[r] = IDeviceSampler.EmptyMaskToken; }
                continue;
            }
            if (_rows[r] is not { } row) { _tokens[r] = ArgMax(logits); continue; }
            var rng = new SamplingRng((long)row.Key, row.Step);
            var copy = logits.ToArray();
            _tokens[r] = _sampler.Sample(copy, row.Params, row.Prompt, row.Output, row.EndTokenIds, ref rng, [], out _);
        }
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    public void Begin(int rows)
    {
        Array.Clear(_rows, 0, rows);
        Array.Clear(_constraints, 0, rows);
    }

    public void SetRow(int row, in SamplingRow p, ulong key, int step, ReadOnlySpan<int> prompt, ReadOnlySpan<int> output, ReadOnlySpan<int> endTokenIds) =>
        _rows[row] = p.Temperature == 0 && p.RepetitionPenalty == 1 && p.FrequencyPenalty == 0 && p.PresencePenalty == 0 && p.MinTokens == 0
            ? null : new Row(p, key, step, prompt.ToArray(), output.ToArray(), endTokenIds.ToArray());

    public void SetConstraint(int row, ITokenConstraint constraint) => _constraints[row] = constraint;

    public void Dispose()
    {
        _inner.Dispose();
        Gate.Dispose();
    }
}
