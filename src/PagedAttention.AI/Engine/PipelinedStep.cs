using System.Diagnostics;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Scheduling;

namespace PagedAttention.AI.Engine;

/// <summary>
/// The step on an asynchronous device (CUDA): while step N runs on the device, its bookkeeping is committed with
/// placeholders for the tokens it is sampling, step N+1 is scheduled and flattened and step N-1's outputs are
/// delivered. Then: wait for N, resolve the placeholders (stop rules, freeing what finished), patch N+1's input ids,
/// set its sampler rows and launch it. A sequence that finished at step N also sits in step N+1; that row's result is
/// ignored (vLLM's async scheduling makes the same trade). The device runs its steps in stream order, so blocks freed
/// while a step is in flight are only ever rewritten by later steps.
/// </summary>
internal sealed class PipelinedStep(EngineCore core, int maxNumSeqs) : IStepStrategy
{
    private readonly SchedulerOutput<EngineSequence>[] _outputs = [new(maxNumSeqs), new(maxNumSeqs)];
    private readonly bool[] _inflightSamples = new bool[maxNumSeqs];
    private SchedulerOutput<EngineSequence>? _inflight;
    private int _nextOutput;

    public bool HasInFlight => _inflight is not null;

    public void Step()
    {
        var n = _inflight;
        if (n is not null)
        {
            core.CommitFinishedStep(n);
            for (int i = 0; i < n.Count; i++)
                if (_inflightSamples[i] && n.Seq(i).Status == SequenceStatus.Running) n.Seq(i).AppendPlaceholder();
        }
        var next = _outputs[_nextOutput];
        _nextOutput ^= 1;
        core.Scheduler.Schedule(next);
        if (next.Count > 0) core.Build(next);
        else core.RunCopies();

        if (n is not null)
        {
            long waitStart = Stopwatch.GetTimestamp();
            long delivered = core.Deliver(); // step N-1's outputs, while the device computes step N
            try { core.Runner.WaitSample(core.DeviceTokens); }
            catch (Exception ex)
            {
                _inflight = null;
                core.FailStep(n, ex); // n's sequences end; the others of next are scheduled again next turn
                return;
            }
            finally { core.Counters.AddForward(Stopwatch.GetTimestamp() - waitStart - delivered); }
            _inflight = null;
            core.AcceptDeviceTokens(n, _inflightSamples, resolve: true);
        }
        else core.Deliver();
        if (next.Count == 0) return;

        // Decode rows of N+1 read the token N sampled: its id is known now.
        var batch = core.Batch;
        for (int i = 0; i < next.Count; i++)
        {
            int q = batch.QueryStarts[i];
            if (next.NumTokens(i) == 1 && batch.TokenIds[q] == Sequence.Placeholder)
            {
                var seq = next.Seq(i);
                batch.TokenIds[q] = seq.HasPlaceholder ? 0 : seq.LastToken; // 0: a finished sequence's ignored row
            }
        }
        bool hostRows;
        long launchStart = Stopwatch.GetTimestamp();
        try
        {
            hostRows = core.SetSamplerRows(next);
            if (!hostRows)
            {
                for (int i = 0; i < next.Count; i++) _inflightSamples[i] = !next.Seq(i).IsFinished && next.Samples(i);
                core.Runner.LaunchSample(batch);
                _inflight = next;
            }
        }
        catch (Exception ex)
        {
            core.FailStep(next, ex);
            return;
        }
        finally { core.Counters.AddForward(Stopwatch.GetTimestamp() - launchStart); }
        if (hostRows) core.RunToCompletion(next, rowsSet: true); // logprobs need this step's logits on the host: no overlap for it
    }

    public void Drain()
    {
        if (_inflight is not { } n) return;
        _inflight = null;
        try { core.Runner.WaitSample(core.DeviceTokens); }
        catch (Exception ex)
        {
            core.FailStep(n, ex);
            return;
        }
        core.CommitFinishedStep(n);
        core.AcceptDeviceTokens(n, _inflightSamples, resolve: false);
    }
}
