using System.Runtime.InteropServices;

namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// A weight matrix quantized at load (<see cref="DType.Int8"/> or <see cref="DType.Int4"/>) in native memory that this
/// object owns; <see cref="Matrix"/> is the view the kernels read. Dispose after the last kernel call.
/// </summary>
/// <remarks>
/// Int8: per output row (channel), symmetric: <c>s = max|w| / 127</c>, <c>q = round(w / s)</c> (ties to even) in
/// [-127, 127]. Int4: per group of 64 columns of a row, symmetric, <c>q = clamp(round(w / d), -8, 7)</c> with the scale d
/// that minimises the group's squared error (<see cref="QuantizeInt4Group"/>), stored as the nibble q + 8; byte j of a group holds column j (low nibble) and column j + 32 (high nibble). Rows are padded with
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

    /// <summary>Quantizes an F32, F16 or BF16 matrix to <paramref name="target"/> (Int8 or Int4).</summary>
    /// <exception cref="ArgumentException">The source is already quantized, or the target is not a quantized type.</exception>
    public static QuantizedMatrix Quantize(in WeightMatrix source, DType target)
    {
        if (source.Data == 0) throw new ArgumentException("The weight matrix is uninitialised.", nameof(source));
        if (source.IsQuantized) throw new ArgumentException("The source matrix is already quantized.", nameof(source));
        if (target is not (DType.Int8 or DType.Int4)) throw new ArgumentException("The target must be Int8 or Int4.", nameof(target));
        int rows = source.Rows, cols = source.Cols;
        if (target == DType.Int8 && cols > 65536) throw new ArgumentException($"Int8 weights support rows of at most 65,536 columns, got {cols}.", nameof(source));
        int kp = (cols + WeightMatrix.QuantGroup - 1) / WeightMatrix.QuantGroup * WeightMatrix.QuantGroup;
        long rowBytes = target == DType.Int8 ? kp : kp / 2;
        int groups = kp / WeightMatrix.QuantGroup;
        long scaleCount = target == DType.Int8 ? rows : (long)rows * groups;
        void* data = NativeMemory.AlignedAlloc((nuint)(rows * rowBytes), 64);
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
                        ((float*)scales)[(long)r * groups + g] = QuantizeInt4Group(row + g * WeightMatrix.QuantGroup, dst + g * (WeightMatrix.QuantGroup / 2));
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
    /// Int4 quantization of one 64-column group into 32 bytes; returns the group's scale. Round to nearest with the scale
    /// that minimises the squared error among 26 candidates: <c>m / -8 · c</c> and <c>m / 7 · c</c> (m the value of largest
    /// magnitude) for c in 0.80, 0.825, ..., 1.10.
    /// </summary>
    internal static float QuantizeInt4Group(float* w, byte* dst)
    {
        const int G = WeightMatrix.QuantGroup, H = G / 2;
        float amax = 0, m = 0;
        for (int i = 0; i < G; i++)
        {
            float a = MathF.Abs(w[i]);
            if (a > amax) { amax = a; m = w[i]; }
        }
        if (!float.IsFinite(amax)) throw new ArgumentException("The weight matrix holds non-finite values.");
        float best = m / -8f;
        if (amax > 0)
        {
            double bestErr = double.MaxValue;
            for (int sign = 0; sign < 2; sign++)
                for (int c = 0; c <= 12; c++)
                {
                    float d = (sign == 0 ? m / -8f : m / 7f) * (0.8f + 0.025f * c);
                    float inv = 1f / d;
                    double err = 0;
                    for (int i = 0; i < G; i++)
                    {
                        float e = w[i] - d * Math.Clamp(MathF.Round(w[i] * inv), -8f, 7f);
                        err += e * e;
                    }
                    if (err < bestErr) { bestErr = err; best = d; }
                }
        }
        float id = best != 0 ? 1f / best : 0f;
        for (int j = 0; j < H; j++)
        {
            int lo = (int)Math.Clamp(MathF.Round(w[j] * id), -8f, 7f) + 8;
            int hi = (int)Math.Clamp(MathF.Round(w[j + H] * id), -8f, 7f) + 8;
            dst[j] = (byte)(lo | (hi << 4));
        }
        return best;
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
