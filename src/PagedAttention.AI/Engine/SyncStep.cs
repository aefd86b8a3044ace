namespace PagedAttention.AI.Engine;

/// <summary>
/// One step, start to finish: schedule, flatten, forward + sample, accept (the CPU backend, or any device with
/// overlap switched off). The previous step's outputs are delivered just before the forward pass.
/// </summary>
internal sealed class SyncStep(EngineCore core) : IStepStrategy
{
    public bool HasInFlight => false;

    public void Step()
    {
        var output = core.Scheduler.Schedule();
        if (output.Count == 0)
        {
            core.RunCopies();
            core.Deliver();
            return;
        }
        core.Build(output);
        core.RunToCompletion(output);
    }

    public void Drain() { }
}
