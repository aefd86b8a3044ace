using System.Diagnostics;

namespace PagedAttention.AI.Engine;

/// <summary>Bytes and time of the swap copies (written by the step loop, read from any thread).</summary>
internal sealed class SwapCounters
{
    private long _bytesOut, _bytesIn, _ticks;

    public long BytesOut => Interlocked.Read(ref _bytesOut);
    public long BytesIn => Interlocked.Read(ref _bytesIn);
    public double Seconds => Interlocked.Read(ref _ticks) / (double)Stopwatch.Frequency;

    public void Add(long bytesOut, long bytesIn, long ticks)
    {
        Interlocked.Add(ref _bytesOut, bytesOut);
        Interlocked.Add(ref _bytesIn, bytesIn);
        Interlocked.Add(ref _ticks, ticks);
    }
}
