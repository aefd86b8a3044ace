using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// A weight matrix quantized at load (<see cref="DType.Int8"/> or <see cref="DType.Int4"/>) in native memory that this
/// object owns; <see cref="Matrix"/> is the view the kernels read. Dispose after the last kernel call.
/// </summary>
/// <remarks>
/// Int8: per output row (channel), symmetric: <c>s = max|w| / 127</c>, <c>q = round(w / s)</c> (ties to even) in
/// [-127, 127]. Int4: blocks of 64 columns of a row, each with two scales (one per group of 32 columns), symmetric,
/// <c>q = clamp(round(w / d), -8, 7)</c> with the scale d searched for the group's least squared error
/// (<see cref="Int4Scale"/>), stored as the nibble q + 8; byte j of a block holds column j (low nibble) and column j + 32
/// (high nibble), so the low nibbles are the first group and the high nibbles the second. Rows are padded with
/// zeros (q = 0) to a multiple of 64 columns. docs/cpu-kernels.md, "Quantized weights".
/// </remarks>
internal sealed unsafe class QuantizedMatrix : IDisposable
{
    private void* _data;
    private void* _scales;

    private QuantizedMatrix(void* data, void* scales, DType dtype, int rows, int cols)
    {
        _data = data;
        _scales = scales;
        Matrix = new WeightMatrix((nint)data, (nint)scales, dtype, rows, cols);
    }

    /// <summary>The quantized view.</summary>
    public WeightMatrix Matrix { get; }

    /// <summary>
    /// Quantizes an F32, F16 or BF16 matrix to <paramref name="target"/> (Int8 or Int4); with <paramref name="hugePages"/>
    /// the codes live on huge pages where the OS gives them (<see cref="HugePageMemory"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The source is already quantized, or the target is not a quantized type.</exception>
    public static QuantizedMatrix Quantize(in WeightMatrix source, DType target, bool hugePages = false)
    {
        if (source.Data == 0) throw new ArgumentException("The weight matrix is uninitialised.", nameof(source));
        if (source.IsQuantized) throw new ArgumentException("The source matrix is already quantized.", nameof(source));
        if (target is not (DType.Int8 or DType.Int4 or DType.F8E4M3)) throw new ArgumentException("The target must be Int8, Int4 or F8E4M3.", nameof(target));
        int rows = source.Rows, cols = source.Cols;
        if (target == DType.F8E4M3) return QuantizeFp8(source, hugePages);
        if (target == DType.Int8 && cols > 65536) throw new ArgumentException($"Int8 weights support rows of at most 65,536 columns, got {cols}.", nameof(source));
        int kp = (cols + WeightMatrix.QuantGroup - 1) / WeightMatrix.QuantGroup * WeightMatrix.QuantGroup;
        long rowBytes = target == DType.Int8 ? kp : kp / 2;
        int groups = kp / WeightMatrix.QuantGroup;
        long scaleCount = target == DType.Int8 ? rows : (long)rows * groups * 2;
        void* data = HugePageMemory.Alloc((nuint)(rows * rowBytes), hugePages);
        void* scales = NativeMemory.AlignedAlloc((nuint)(scaleCount * sizeof(float)), 64);
        var src = source;
        try
        {
            // Rows are independent; quantizing them in parallel keeps the load time of large models down.
            Parallel.For(0, rows, () => (nint)NativeMemory.AlignedAlloc((nuint)kp * sizeof(float), 64), (r, _, buffer) =>
            {
                float* row = (float*)buffer;
                Elementwise.WidenRow(src, r, row);
                for (int c = cols; c < kp; c++) row[c] = 0;
                byte* dst = (byte*)data + r * rowBytes;
                if (target == DType.Int8) ((float*)scales)[r] = QuantizeInt8Row(row, kp, (sbyte*)dst);
                else
                    for (int g = 0; g < groups; g++)
                        QuantizeInt4Group(row + g * WeightMatrix.QuantGroup, dst + g * (WeightMatrix.QuantGroup / 2), (float*)scales + ((long)r * groups + g) * 2);
                return buffer;
            }, buffer => NativeMemory.AlignedFree((void*)buffer));
        }
        catch (AggregateException e)
        {
            NativeMemory.AlignedFree(data);
            NativeMemory.AlignedFree(scales);
            throw e.InnerExceptions.Count == 1 ? e.InnerExceptions[0] : e;
        }
        return new QuantizedMatrix(data, scales, target, rows, cols);
    }

    // FP8 E4M3, one scale per row (Fp8Quantizer: the CUDA kernels' rule), unpadded rows of Cols bytes as an FP8
    // checkpoint's: the CPU runs it on the FP8 GEMV (docs/cpu-kernels.md, "FP8 checkpoints").
    private static QuantizedMatrix QuantizeFp8(in WeightMatrix source, bool hugePages)
    {
        int rows = source.Rows, cols = source.Cols;
        void* data = HugePageMemory.Alloc((nuint)((long)rows * cols), hugePages);
        void* scales = NativeMemory.AlignedAlloc((nuint)((long)rows * sizeof(float)), 64);
        var src = source;
        try
        {
            Parallel.For(0, rows, () => (nint)NativeMemory.AlignedAlloc((nuint)cols * sizeof(float), 64), (r, _, buffer) =>
            {
                var row = new Span<float>((float*)buffer, cols);
                Elementwise.WidenRow(src, r, (float*)buffer);
                foreach (float v in row)
                    if (!float.IsFinite(v)) throw new ArgumentException($"The weight matrix holds a non-finite value in row {r}.");
                ((float*)scales)[r] = Fp8Quantizer.QuantizeRow(row, new Span<byte>((byte*)data + (long)r * cols, cols));
                return buffer;
            }, buffer => NativeMemory.AlignedFree((void*)buffer));
        }
        catch (AggregateException e)
        {
            NativeMemory.AlignedFree(data);
            NativeMemory.AlignedFree(scales);
            throw e.InnerExceptions.Count == 1 ? e.InnerExceptions[0] : e;
        }
        return new QuantizedMatrix(data, scales, DType.F8E4M3, rows, cols);
    }

    /// <summary>
    /// An Int4 matrix for a reader of pre-quantized weights to fill (GPTQ): <paramref name="data"/> holds
    /// <paramref name="rows"/> rows of <see cref="WeightMatrix.RowBytes"/> bytes, all nibbles 8 (q = 0);
    /// <paramref name="scales"/> [rows, PaddedCols / 32] floats, all 0.
    /// </summary>
    internal static QuantizedMatrix CreateInt4(int rows, int cols, out byte* data, out float* scales)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        int kp = (cols + WeightMatrix.QuantGroup - 1) / WeightMatrix.QuantGroup * WeightMatrix.QuantGroup;
        nuint dataBytes = (nuint)((long)rows * (kp / 2)), scaleBytes = (nuint)((long)rows * (kp / WeightMatrix.Int4ScaleGroup) * sizeof(float));
        data = (byte*)NativeMemory.AlignedAlloc(dataBytes, 64);
        scales = (float*)NativeMemory.AlignedAlloc(scaleBytes, 64);
        NativeMemory.Fill(data, dataBytes, 0x88);
        NativeMemory.Clear(scales, scaleBytes);
        return new QuantizedMatrix(data, scales, DType.Int4, rows, cols);
    }

    /// <summary>Int8 symmetric quantization of one row; returns the scale.</summary>
    internal static float QuantizeInt8Row(float* w, int n, sbyte* q)
    {
        float amax = 0;
        for (int i = 0; i < n; i++) amax = MathF.Max(amax, MathF.Abs(w[i]));
        if (!(amax > 0) || !float.IsFinite(amax))
        {
            if (!float.IsFinite(amax)) throw new ArgumentException("The weight matrix holds non-finite values.");
            for (int i = 0; i < n; i++) q[i] = 0;
            return 0;
        }
        float inv = 127f / amax;
        for (int i = 0; i < n; i++) q[i] = (sbyte)Math.Clamp((int)MathF.Round(w[i] * inv), -127, 127);
        return amax / 127f;
    }

    /// <summary>
    /// Int4 quantization of one 64-column block into 32 bytes and two scales (columns 0–31, the low nibbles, and 32–63,
    /// the high nibbles; groups of 32 as llama.cpp's Q4_0): each half gets its scale from <see cref="Int4Scale"/>.
    /// </summary>
    internal static void QuantizeInt4Group(float* w, byte* dst, float* scales)
    {
        const int H = WeightMatrix.QuantGroup / 2;
        float d0 = Int4Scale(w), d1 = Int4Scale(w + H);
        scales[0] = d0;
        scales[1] = d1;
        float i0 = d0 != 0 ? 1f / d0 : 0f, i1 = d1 != 0 ? 1f / d1 : 0f;
        for (int j = 0; j < H; j++)
        {
            int lo = (int)Math.Clamp(MathF.Round(w[j] * i0), -8f, 7f) + 8;
            int hi = (int)Math.Clamp(MathF.Round(w[j + H] * i1), -8f, 7f) + 8;
            dst[j] = (byte)(lo | (hi << 4));
        }
    }

    /// <summary>Clipping ratios of the scale search (fractions of the unclipped scale).</summary>
    private static readonly float[] ClipRatios = [1f, 0.95f, 0.9f, 0.85f, 0.8f];

    /// <summary>
    /// The scale of one 32-column group, <c>q = clamp(round(w / d), -8, 7)</c>: the candidate of least squared error
    /// among llama.cpp Q4_0's <c>m / -8</c> (m the value of largest magnitude, with its sign) and <c>±max|w| / 7</c>,
    /// each at the clipping ratios 1, 0.95, 0.9, 0.85, 0.8; then two least-squares refinements (the scale that best
    /// fits the current codes, <c>Σ w·q / Σ q²</c>, re-rounded), kept when they lower the error.
    /// </summary>
    internal static float Int4Scale(float* w)
    {
        const int H = WeightMatrix.QuantGroup / 2;
        float amax = 0, m = 0;
        for (int i = 0; i < H; i++)
        {
            float a = MathF.Abs(w[i]);
            if (a > amax) { amax = a; m = w[i]; }
        }
        if (!float.IsFinite(amax)) throw new ArgumentException("The weight matrix holds non-finite values.");
        float best = m / -8f;
        if (!(amax > 0)) return best;
        double bestErr = Int4Error(w, best, out double wq, out double qq);
        foreach (float ratio in ClipRatios)
        {
            foreach (float d in (ReadOnlySpan<float>)[m / -8f * ratio, amax / 7f * ratio, -amax / 7f * ratio])
            {
                double err = Int4Error(w, d, out double a, out double b);
                if (err < bestErr) { bestErr = err; best = d; wq = a; qq = b; }
            }
        }
        for (int iter = 0; iter < 2 && qq > 0; iter++)
        {
            float d = (float)(wq / qq);
            double err = Int4Error(w, d, out wq, out qq);
            if (err < bestErr) { bestErr = err; best = d; }
        }
        return best;
    }

    /// <summary>
    /// Squared error of rounding a 32-column group with scale <paramref name="d"/>; also sum w·q and sum q². In float
    /// lanes of 8 (exact IEEE operations, no fused multiply-add) reduced in a fixed order, so every machine (with or
    /// without AVX) picks the same scales.
    /// </summary>
    private static double Int4Error(float* w, float d, out double wq, out double qq)
    {
        var inv = Vector256.Create(1f / d);
        var dv = Vector256.Create(d);
        var lo = Vector256.Create(-8f);
        var hi = Vector256.Create(7f);
        Vector256<float> e = Vector256<float>.Zero, a = Vector256<float>.Zero, b = Vector256<float>.Zero;
        for (int i = 0; i < WeightMatrix.QuantGroup / 2; i += 8)
        {
            var v = Vector256.Load(w + i);
            var q = Vector256.Min(Vector256.Max(Vector256.Round(v * inv), lo), hi);
            var r = v - dv * q;
            e += r * r;
            a += v * q;
            b += q * q;
        }
        wq = Reduce(a);
        qq = Reduce(b);
        return Reduce(e);
    }

    private static float Reduce(Vector256<float> v)
    {
        float s0 = v.GetElement(0) + v.GetElement(4), s1 = v.GetElement(1) + v.GetElement(5);
        float s2 = v.GetElement(2) + v.GetElement(6), s3 = v.GetElement(3) + v.GetElement(7);
        return (s0 + s2) + (s1 + s3);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_data is null) return;
        NativeMemory.AlignedFree(_data);
        NativeMemory.AlignedFree(_scales);
        _data = null;
        _scales = null;
    }
}
