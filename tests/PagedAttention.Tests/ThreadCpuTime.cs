using System.Diagnostics;
using System.Runtime.InteropServices;

namespace PagedAttention.Tests;

/// <summary>
/// The calling thread's CPU time (Linux <c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c>; wall time elsewhere), for
/// tests that bound how much work a hostile input can cause: unlike wall time it does not grow when other processes
/// load the machine.
/// </summary>
internal static partial class ThreadCpuTime
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Sec; public long Nsec; }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec ts);

    /// <summary>Now, as a duration since an arbitrary origin.</summary>
    public static TimeSpan Now()
    {
        if (!OperatingSystem.IsLinux()) return Stopwatch.GetElapsedTime(0);
        if (ClockGetTime(3 /* CLOCK_THREAD_CPUTIME_ID */, out var ts) != 0) return Stopwatch.GetElapsedTime(0);
        return TimeSpan.FromTicks(ts.Sec * TimeSpan.TicksPerSecond + ts.Nsec / 100);
    }
}
