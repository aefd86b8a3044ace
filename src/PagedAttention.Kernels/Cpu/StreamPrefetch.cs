using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// Software prefetch of the next tile's weight rows into L2, in address order, while the current tile computes.
/// </summary>
/// <remarks>
/// Why: a GEMV tile reads several weight rows in lockstep (8 streams for one row of x). Measured on the Zen 5 dev VM
/// (one thread, 512 MiB of bf16 from DRAM), 8 lockstep streams over rows of 1,024 columns pulled only 8–10 GB/s, while
/// one row at a time (a single sequential stream) pulled 20–25 and llama.cpp's decode ~20: the hardware prefetchers
/// do not follow many short interleaved streams. The next tile's rows are one contiguous region, so prefetching it
/// line by line, as many bytes per loop iteration as the tile consumes, turns the access pattern back into a single
/// sequential stream (18–22 GB/s at 1,024, 2,048 and 4,096 columns). Prefetches never fault and change no result.
/// </remarks>
internal static unsafe class StreamPrefetch
{
    /// <summary>Prefetches <paramref name="bytes"/> (a multiple of 64, at most 512) starting at <paramref name="p"/> into L2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Lines(byte* p, int bytes)
    {
        if (!Sse.IsSupported)
        {
            return;
        }

        Sse.Prefetch1(p);
        if (bytes > 64) Sse.Prefetch1(p + 64);
        if (bytes > 128) Sse.Prefetch1(p + 128);
        if (bytes > 192) Sse.Prefetch1(p + 192);
        if (bytes > 256) Sse.Prefetch1(p + 256);
        if (bytes > 320) Sse.Prefetch1(p + 320);
        if (bytes > 384) Sse.Prefetch1(p + 384);
        if (bytes > 448) Sse.Prefetch1(p + 448);
    }
}
