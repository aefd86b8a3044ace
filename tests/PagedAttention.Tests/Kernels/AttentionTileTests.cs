using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PagedAttention.Kernels.Cpu;

namespace PagedAttention.Tests.Kernels;

/// <summary>
/// The pieces the grouped attention kernel is built from give the same bits as the per-row ones they replace
/// (CpuAttention: 16 dot products in one vector, V accumulated in registers), so the kernel's output is the same
/// whether a head's rows go through the fast path or not.
/// </summary>
public sealed unsafe class AttentionTileTests
{
    [Theory]
    [InlineData(16)]
    [InlineData(64)]
    [InlineData(80)]
    [InlineData(128)]
    [InlineData(256)]
    public void SixteenDotsInOneVector_AreEachRowsDot_BitForBit(int hd)
    {
        if (!Avx512F.IsSupported) return; // the 16-wide path runs only with AVX-512 (else the kernel uses Dot)
        var r = new Random(hd);
        var data = new float[17 * hd];
        float** rows = stackalloc float*[16];
        fixed (float* d = data)
        {
            for (int trial = 0; trial < 200; trial++)
            {
                // wide exponent range: the sums' rounding depends on the order of additions
                for (int i = 0; i < data.Length; i++) data[i] = (float)((r.NextDouble() * 2 - 1) * Math.Pow(10, r.Next(-4, 5)));
                for (int i = 0; i < 16; i++) rows[i] = d + hd * (i + 1);
                var got = CpuAttention.Dots16(d, rows, hd);
                for (int i = 0; i < 16; i++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(CpuAttention.Dot(d, rows[i], hd)), BitConverter.SingleToInt32Bits(got[i]));
            }
        }
    }

    [Theory]
    [InlineData(64, 1)]
    [InlineData(64, 64)]
    [InlineData(128, 37)]
    [InlineData(80, 20)]
    [InlineData(192, 5)]
    public void AccumulatingInRegisters_IsAxpyPerRow_BitForBit(int hd, int len)
    {
        var r = new Random(len);
        var v = new float[len * hd];
        var e = new float[len];
        var a = new float[hd];
        for (int i = 0; i < v.Length; i++) v[i] = (float)(r.NextDouble() * 2 - 1);
        for (int i = 0; i < len; i++) e[i] = (float)r.NextDouble();
        for (int i = 0; i < hd; i++) a[i] = (float)(r.NextDouble() * 2 - 1);
        var b = (float[])a.Clone();
        float** rows = stackalloc float*[len];
        fixed (float* pv = v, pe = e, pa = a, pb = b)
        {
            for (int p = 0; p < len; p++) rows[p] = pv + p * hd;
            CpuAttention.Accumulate(pa, pe, rows, len, hd);
            for (int p = 0; p < len; p++) CpuAttention.Axpy(pe[p], rows[p], pb, hd);
        }
        Assert.Equal(b.Select(BitConverter.SingleToInt32Bits), a.Select(BitConverter.SingleToInt32Bits));
    }
}
