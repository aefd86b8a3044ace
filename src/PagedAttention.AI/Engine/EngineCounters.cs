using System.Diagnostics;

namespace PagedAttention.AI.Engine;

/// <summary>
/// The step loop's counters: written by the loop thread only, read from any thread (values may be a step apart).
/// Times are <see cref="Stopwatch"/> ticks.
/// </summary>
internal sealed class EngineCounters
{
    private long _steps, _computedTokens, _generatedTokens, _busyTicks, _forwardTicks, _stepAllocatedBytes, _channelAllocatedBytes;

    public long Steps => Interlocked.Read(ref _steps);
    public long ComputedTokens => Interlocked.Read(ref _computedTokens);
    public long GeneratedTokens => Interlocked.Read(ref _generatedTokens);
    public long BusyTicks => Interlocked.Read(ref _busyTicks);
    public long ForwardTicks => Interlocked.Read(ref _forwardTicks);

    /// <summary>Bytes the loop thread allocated between its waits since start.</summary>
    public long StepAllocatedBytes => Interlocked.Read(ref _stepAllocatedBytes);

    /// <summary>Of <see cref="StepAllocatedBytes"/>, bytes allocated by writes to and completions of output channels.</summary>
    public long ChannelAllocatedBytes => Interlocked.Read(ref _channelAllocatedBytes);

    public void CountStep(int tokens)
    {
        Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _computedTokens, tokens);
    }

    private long _forwardFailures, _lastForwardFailureTimestamp;
    private Exception? _lastForwardFailure;

    /// <summary>Steps whose forward pass threw (their requests were failed; the loop went on).</summary>
    public long ForwardFailures => Interlocked.Read(ref _forwardFailures);

    /// <summary>The last forward-pass failure and its <see cref="Stopwatch"/> timestamp, or null.</summary>
    public (Exception Error, long Timestamp)? LastForwardFailure =>
        Volatile.Read(ref _lastForwardFailure) is { } e ? (e, Interlocked.Read(ref _lastForwardFailureTimestamp)) : null;

    public void ForwardFailed(Exception ex)
    {
        Interlocked.Exchange(ref _lastForwardFailureTimestamp, Stopwatch.GetTimestamp());
        Volatile.Write(ref _lastForwardFailure, ex);
        Interlocked.Increment(ref _forwardFailures);
    }

    public void CountGenerated() => Interlocked.Increment(ref _generatedTokens);

    public void AddBusy(long ticks) => Interlocked.Add(ref _busyTicks, ticks);

    public void AddForward(long ticks) => Interlocked.Add(ref _forwardTicks, ticks);

    public void AddStepAllocated(long bytes) => Interlocked.Add(ref _stepAllocatedBytes, bytes);

    public void AddChannelAllocated(long bytes) => Interlocked.Add(ref _channelAllocatedBytes, bytes);

    public static double Seconds(long ticks) => ticks / (double)Stopwatch.Frequency;
}
