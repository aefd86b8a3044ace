using PagedAttention.Kernels;
using PagedAttention.Kernels.Cuda;

using static GpuCheck.Buffers;

namespace GpuCheck;

/// <summary>
/// The FP8 building blocks against CPU references: the three activation quantizers bit for bit against
/// <see cref="Fp8Quantizer"/> applied to the bf16 kernels' outputs, and the cuBLASLt W8A8 GEMM against a double-precision
/// product of the dequantized operands (error relative to Σ|x·w|, which cancellation cannot hide).
/// </summary>
internal static unsafe class Fp8Checks
{
    public static void Run(CudaDevice d, Report rep)
    {
        if (d.Blas.Fp8Unsupported() is { } why) { Console.WriteLine($"SKIP fp8: {why}"); return; }
        using var k = new CudaKernels(d, 128, 4, Program.Switches);
        foreach (int h in new[] { 200, 203 }) // 8-wide and scalar paths
        {
            rep.Run($"quantize_rows_fp8 d={h}", () => QuantizeRows(d, k, rep, h));
            rep.Run($"fused_add_rms_norm_fp8 d={h}", () => AddRmsNormFp8(d, k, rep, h));
        }
        foreach (int inter in new[] { 333, 336, 14336, 20000 }) // scalar, products in registers (1 and 2 chunks per thread), two passes
            rep.Run($"silu_mul_fp8 inter={inter}", () => SiluMulFp8(d, k, rep, inter));
        rep.Run("gemm fp8", () => Gemm(d, rep));
    }

    // CPU reference: each row widened from bf16 and quantized by Fp8Quantizer.
    private static (byte[] Codes, float[] Scales) Reference(ushort[] bf16, int rows, int d)
    {
        var codes = new byte[rows * d]; var scales = new float[rows];
        var row = new float[d];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < d; i++) row[i] = Rand.FromBf16(bf16[r * d + i]);
            scales[r] = Fp8Quantizer.QuantizeRow(row, codes.AsSpan(r * d, d));
        }
        return (codes, scales);
    }

    private static void Same(Report rep, string name, byte[] codes, float[] scales, (byte[] Codes, float[] Scales) want)
    {
        int badCodes = 0, badScales = 0;
        for (int i = 0; i < want.Codes.Length; i++) if (codes[i] != want.Codes[i]) badCodes++;
        for (int i = 0; i < want.Scales.Length; i++) if (BitConverter.SingleToInt32Bits(scales[i]) != BitConverter.SingleToInt32Bits(want.Scales[i])) badScales++;
        rep.Check(name, badCodes == 0 && badScales == 0, $"{badCodes}/{want.Codes.Length} codes and {badScales}/{want.Scales.Length} scales differ from Fp8Quantizer");
    }

    private static void QuantizeRows(CudaDevice d, CudaKernels k, Report rep, int h)
    {
        var r = new Random(11);
        int n = 6;
        var (_, bits) = Rand.Bf16(r, n * h, 5);
        for (int i = 0; i < h; i++) bits[3 * h + i] = 0; // a zero row: scale 1
        bits[h + 7] = Rand.ToBf16(1e-30f);                // a subnormal-range value
        using var x = Up(d, bits); using var c = d.Allocate(n * h); using var s = d.Allocate(n * 4L);
        k.QuantizeRowsFp8(x.Ptr, c.Ptr, s.Ptr, n, h);
        Same(rep, $"quantize_rows_fp8 d={h}", c.ToArray<byte>()[..(n * h)], s.ToArray<float>()[..n], Reference(bits, n, h));
    }

    private static void AddRmsNormFp8(CudaDevice d, CudaKernels k, Report rep, int h)
    {
        var r = new Random(12);
        int n = 5;
        var res = Rand.Floats(r, n * h, 3); var delta = Rand.Floats(r, n * h); var bias = Rand.Floats(r, h, 0.1f); var w = Rand.Floats(r, h);
        // The bf16 kernel's output quantized on the CPU is the reference: the fused kernel must round the same way.
        using var r1 = Up(d, res); using var r2 = Up(d, res); using var dd = Up(d, delta); using var db = Up(d, bias); using var dw = Up(d, w);
        using var o = d.Allocate(n * h * 2L); using var c = d.Allocate(n * h); using var s = d.Allocate(n * 4L);
        k.FusedAddRmsNorm(r1.Ptr, dd.Ptr, db.Ptr, dw.Ptr, o.Ptr, 0, n, h, 1e-5f);
        k.FusedAddRmsNormFp8(r2.Ptr, dd.Ptr, db.Ptr, dw.Ptr, c.Ptr, s.Ptr, n, h, 1e-5f);
        float eRes = Rand.MaxAbs(r2.ToArray<float>(), r1.ToArray<float>());
        rep.Check($"fused_add_rms_norm_fp8 residual d={h}", eRes == 0, $"residual max diff {eRes:E1} from fused_add_rms_norm");
        Same(rep, $"fused_add_rms_norm_fp8 d={h}", c.ToArray<byte>()[..(n * h)], s.ToArray<float>()[..n], Reference(o.ToArray<ushort>()[..(n * h)], n, h));
    }

    private static void SiluMulFp8(CudaDevice d, CudaKernels k, Report rep, int inter)
    {
        var r = new Random(13);
        int n = 4;
        var (_, guBits) = Rand.Bf16(r, n * 2 * inter, 6);
        using var g = Up(d, guBits); using var o = d.Allocate(n * inter * 2L); using var c = d.Allocate(n * inter); using var s = d.Allocate(n * 4L);
        k.SiluMul(g.Ptr, o.Ptr, n, inter);
        k.SiluMulFp8(g.Ptr, c.Ptr, s.Ptr, n, inter);
        Same(rep, $"silu_mul_fp8 inter={inter}", c.ToArray<byte>()[..(n * inter)], s.ToArray<float>()[..n], Reference(o.ToArray<ushort>()[..(n * inter)], n, inter));
    }

    private static void Gemm(CudaDevice d, Report rep)
    {
        var r = new Random(14);
        foreach (var (m, n, kk) in new[] { (1, 384, 256), (7, 1000, 320), (64, 512, 2048), (300, 768, 512), (512, 4096, 4096) })
            foreach (bool f32 in new[] { true, false })
            {
                var (_, xb) = Rand.Bf16(r, m * kk, 4); var (_, wb) = Rand.Bf16(r, n * kk, 0.05f);
                var (xc, xs) = Reference(xb, m, kk); var (wc, ws) = Reference(wb, n, kk);
                using var dx = Up(d, xc); using var dxs = Up(d, xs); using var dw = Up(d, wc); using var dws = Up(d, ws);
                using var y = d.Allocate(m * n * 4L);
                d.Blas.GemmFp8(dx.Ptr, dxs.Ptr, dw.Ptr, dws.Ptr, y.Ptr, m, n, kk, f32);
                float[] got = f32 ? y.ToArray<float>()[..(m * n)] : Rand.Widen(y.ToArray<ushort>()[..(m * n)]);
                var xv = xc.Select(Fp8E4M3.ToSingle).ToArray(); var wv = wc.Select(Fp8E4M3.ToSingle).ToArray();
                double worst = 0;
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        double sum = 0, mag = 0;
                        for (int t = 0; t < kk; t++) { double p = (double)xv[i * kk + t] * wv[j * kk + t]; sum += p; mag += Math.Abs(p); }
                        double scale = (double)xs[i] * ws[j];
                        worst = Math.Max(worst, Math.Abs(got[i * n + j] - sum * scale) / Math.Max(mag * scale, 1e-30));
                    }
                // f32 out: the FP8 tensor cores accumulate in their own order and width, not plain fp32 (measured on the H200
                // 1.7e-5..5.8e-5 of Σ|x·w|), so 2e-4; bf16 out also rounds once (2^-9 of |y| <= Σ|x·w|), so 4e-3.
                double tol = f32 ? 2e-4 : 4e-3;
                rep.Check($"gemm fp8 m={m} n={n} k={kk} out={(f32 ? "f32" : "bf16")}", worst < tol, $"max |err| / Σ|x·w| {worst:E2} (tolerance {tol:E0})");
            }
        Console.WriteLine($"INFO fp8 plans: {string.Join("; ", d.Blas.DescribePlans().Where(p => p.Contains("fp8")))}");
    }
}
