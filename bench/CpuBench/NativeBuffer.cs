using System.Runtime.InteropServices;
using PagedAttention.Kernels;

namespace CpuBench;

/// <summary>64-byte aligned native memory filled with small random values of a dtype.</summary>
internal sealed unsafe class NativeBuffer : IDisposable
{
    public NativeBuffer(long bytes)
    {
        Bytes = bytes;
        Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
    }

    public byte* Pointer { get; }

    public long Bytes { get; }

    public static NativeBuffer RandomWeights(DType dtype, long elements, ulong seed, float range = 0.05f)
    {
        var b = new NativeBuffer(elements * dtype.SizeInBytes());
        FillRandom(b.Pointer, dtype, elements, seed, range);
        return b;
    }

    /// <summary>xorshift-based fill: fast enough for hundreds of MB, deterministic per seed.</summary>
    public static void FillRandom(byte* p, DType dtype, long elements, ulong seed, float range)
    {
        ulong s = seed * 0x9E3779B97F4A7C15UL + 1;
        for (long i = 0; i < elements; i++)
        {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            float v = ((s >> 40) * (1f / (1 << 24)) * 2 - 1) * range;
            switch (dtype)
            {
                case DType.F32: ((float*)p)[i] = v; break;
                case DType.F16: ((Half*)p)[i] = (Half)v; break;
                default: ((ushort*)p)[i] = (ushort)(BitConverter.SingleToInt32Bits(v) >> 16); break;
            }
        }
    }

    public void Dispose() => NativeMemory.AlignedFree(Pointer);
}
