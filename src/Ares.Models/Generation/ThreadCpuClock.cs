using System.Runtime.InteropServices;

namespace Ares.Models.Generation;

/// <summary>
/// CPU seconds consumed by the calling thread (Linux CLOCK_THREAD_CPUTIME_ID). With libtorch at one
/// intra-op thread every op runs on the caller, so this is the compute time of a forward even when
/// other processes hold the cores — what `ares bench generate --clock cpu` reports on a shared machine.
/// </summary>
internal static class ThreadCpuClock
{
    const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    struct TimeSpec { public long Seconds; public long Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out TimeSpec time);

    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>Seconds of CPU time of this thread so far; NaN where the clock is not available.</summary>
    public static double Now()
    {
        if (!IsSupported || ClockGetTime(ClockThreadCpuTimeId, out var t) != 0) return double.NaN;
        return t.Seconds + t.Nanoseconds * 1e-9;
    }
}
