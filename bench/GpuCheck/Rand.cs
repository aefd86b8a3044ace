namespace GpuCheck;

/// <summary>Seeded random inputs, rounded to bf16 where the GPU stores bf16 so both sides see identical values.</summary>
internal static class Rand
{
    public static float[] Floats(Random r, int n, float scale = 1f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(r.NextDouble() * 2 - 1) * scale;
        return a;
    }

    public static ushort ToBf16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40);
        u += 0x7fffu + ((u >> 16) & 1u);
        return (ushort)(u >> 16);
    }

    public static float FromBf16(ushort b) => BitConverter.Int32BitsToSingle(b << 16);

    public static float RoundBf16(float f) => FromBf16(ToBf16(f));

    /// <summary>Random values already representable in bf16, and their bf16 bit patterns.</summary>
    public static (float[] F, ushort[] B) Bf16(Random r, int n, float scale = 1f)
    {
        var f = Floats(r, n, scale);
        var b = new ushort[n];
        for (int i = 0; i < n; i++) { b[i] = ToBf16(f[i]); f[i] = FromBf16(b[i]); }
        return (f, b);
    }

    /// <summary>max |a - b| / (max |b| + tiny): error relative to the reference's scale.</summary>
    public static float RelErr(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float d = 0, m = 0;
        for (int i = 0; i < b.Length; i++) { d = MathF.Max(d, MathF.Abs(a[i] - b[i])); m = MathF.Max(m, MathF.Abs(b[i])); }
        return d / (m + 1e-30f);
    }

    public static float MaxAbs(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float d = 0;
        for (int i = 0; i < b.Length; i++) d = MathF.Max(d, MathF.Abs(a[i] - b[i]));
        return d;
    }

    public static float[] Widen(ushort[] b) => b.Select(FromBf16).ToArray();
}
