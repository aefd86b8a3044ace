namespace PagedAttention.AI.Engine;

/// <summary>How the step loop advances the engine by one step: synchronously, or pipelined with the device.</summary>
internal interface IStepStrategy
{
    /// <summary>Whether a step is still on the device (the loop must come back for it even with nothing scheduled).</summary>
    bool HasInFlight { get; }

    /// <summary>Schedules, runs and accepts one step (a pipelined strategy: the turn of the pipeline).</summary>
    void Step();

    /// <summary>At stop: waits for the step in flight, if any, and takes its tokens.</summary>
    void Drain();
}
