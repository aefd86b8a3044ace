using System.Diagnostics;

namespace CpuBench;

/// <summary>Runs an action repeatedly and reports the median wall time (this machine is shared and noisy).</summary>
internal static class Timing
{
    public static double MedianSeconds(Action action, int reps, int warmup = 2)
    {
        for (int i = 0; i < warmup; i++) action();
        var t = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            t[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(t);
        return t[reps / 2];
    }

    public static double Median(double[] values)
    {
        var t = (double[])values.Clone();
        Array.Sort(t);
        return t[t.Length / 2];
    }
}
