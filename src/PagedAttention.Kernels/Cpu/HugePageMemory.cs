using System.Runtime.InteropServices;

namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// Native memory for the large buffers the CPU kernels stream through (weights): on Linux, allocations of at least
/// one huge page are 2 MiB-aligned, rounded up to whole huge pages and advised <c>MADV_HUGEPAGE</c>, so that the
/// kernel backs them with transparent huge pages where THP is <c>madvise</c> or <c>always</c>.
/// </summary>
/// <remarks>
/// Why: a GEMV walks the weights once per token. With 4 KiB pages the walk takes a TLB miss every 4 KiB and the
/// hardware prefetchers stop at every page boundary; with 2 MiB pages neither happens. On the 2-vCPU Zen 5 dev VM the
/// 309M bf16 decode at one thread went from 34–37 to 46–50 tok/s (weights in the memory-mapped file → copied into
/// these pages; docs/cpu-kernels.md, "Huge pages"). Elsewhere (or when THP is <c>never</c>) the advice is a no-op and
/// the memory is ordinary. The contents are the same either way: results are bit for bit unchanged.
/// </remarks>
internal static unsafe partial class HugePageMemory
{
    /// <summary>The huge page size the allocations are aligned to (x86-64 and arm64 Linux with 4 KiB base pages).</summary>
    public const nuint HugePageBytes = 2u << 20;

    private const int MadvHugePage = 14, MadvDontNeed = 4;
    private static int s_madviseMissing; // 1 once libc's madvise could not be bound (then every call is a no-op)

    /// <summary>
    /// <paramref name="bytes"/> of uninitialised native memory; with <paramref name="hugePages"/> on Linux and at least
    /// one huge page, 2 MiB-aligned and advised for huge pages, else 64-byte aligned. Free with <see cref="Free"/>.
    /// </summary>
    public static void* Alloc(nuint bytes, bool hugePages)
    {
        if (!hugePages || !OperatingSystem.IsLinux() || bytes < HugePageBytes)
            return NativeMemory.AlignedAlloc(Math.Max(bytes, 1), 64);
        nuint size = (bytes + HugePageBytes - 1) / HugePageBytes * HugePageBytes;
        void* p = NativeMemory.AlignedAlloc(size, HugePageBytes);
        Advise((nint)p, size, MadvHugePage); // before the first touch: the faults then map huge pages
        return p;
    }

    /// <summary>Frees what <see cref="Alloc"/> returned (null is ignored).</summary>
    public static void Free(void* p) => NativeMemory.AlignedFree(p);

    /// <summary>
    /// Drops this process's mapping of the whole 4 KiB pages inside [<paramref name="start"/>, + <paramref name="bytes"/>)
    /// of a read-only file mapping once its data has been copied (<c>MADV_DONTNEED</c>), so the copy does not count
    /// twice in the resident set; a later read of the range faults the pages back in from the page cache, unchanged.
    /// Linux only; elsewhere a no-op.
    /// </summary>
    public static void ReleaseFileRange(nint start, nuint bytes)
    {
        if (!OperatingSystem.IsLinux()) return;
        const long page = 4096;
        long from = ((long)start + page - 1) & ~(page - 1), to = ((long)start + (long)bytes) & ~(page - 1);
        if (to > from) Advise((nint)from, (nuint)(to - from), MadvDontNeed);
    }

    private static void Advise(nint p, nuint bytes, int advice)
    {
        if (Volatile.Read(ref s_madviseMissing) != 0) return;
        try { _ = Madvise(p, bytes, advice); } // advice only: a refusal (EINVAL where THP is not built in) changes nothing
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { Volatile.Write(ref s_madviseMissing, 1); }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint addr, nuint length, int advice);
}
