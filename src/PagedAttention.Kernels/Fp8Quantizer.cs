namespace PagedAttention.Kernels;

/// <summary>
/// Dynamic per-row FP8 quantization, the rule of the CUDA kernels (<c>fp8_row_scale</c> and <c>f2e4m3</c> in common.cu):
/// <c>s = max|row| / 448</c> (1 for a zero row) and <c>code = E4M3(x / s)</c>, nearest with ties to even, saturating
/// (<see cref="Fp8E4M3.FromSingle"/>). Used for weights quantized at load on the CPU, and by the GPU checks as the
/// reference the kernels must match bit for bit.
/// </summary>
internal static class Fp8Quantizer
{
    /// <summary>The row scale for a largest magnitude of <paramref name="amax"/>.</summary>
    public static float RowScale(float amax)
    {
        float s = amax / Fp8E4M3.MaxFinite;
        return s > 0f ? s : 1f;
    }

    /// <summary>Quantizes <paramref name="row"/> into <paramref name="codes"/> and returns its scale; NaN values are skipped by the max (as fmaxf does) and encode as NaN.</summary>
    public static float QuantizeRow(ReadOnlySpan<float> row, Span<byte> codes)
    {
        if (codes.Length < row.Length) throw new ArgumentException("codes is shorter than the row.", nameof(codes));
        float amax = 0f;
        foreach (float v in row)
        {
            float a = MathF.Abs(v);
            if (a > amax) amax = a;
        }
        float s = RowScale(amax);
        for (int i = 0; i < row.Length; i++) codes[i] = Fp8E4M3.FromSingle(row[i] / s);
        return s;
    }
}
