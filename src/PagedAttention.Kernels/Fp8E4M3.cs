namespace PagedAttention.Kernels;

/// <summary>
/// The OCP FP8 E4M3 "FN" format (<c>torch.float8_e4m3fn</c>, safetensors <c>F8_E4M3</c>): 1 sign bit, 4 exponent bits
/// (bias 7), 3 mantissa bits, subnormals, no infinities, NaN = S.1111.111; largest finite value 448.
/// </summary>
internal static class Fp8E4M3
{
    /// <summary>The largest finite magnitude.</summary>
    public const float MaxFinite = 448f;

    /// <summary>The exact value of <paramref name="code"/> as a float32 (every E4M3 value is representable).</summary>
    public static float ToSingle(byte code)
    {
        if ((code & 0x7F) == 0x7F) return float.NaN;
        int e = (code >> 3) & 0xF, m = code & 7;
        // Normal: (1 + m/8) * 2^(e-7) -> float32 exponent field e + 120, mantissa m << 20. Subnormal (e = 0): m * 2^-9.
        float magnitude = e == 0 ? m * (1f / 512f) : BitConverter.Int32BitsToSingle(((e + 120) << 23) | (m << 20));
        return (code & 0x80) != 0 ? -magnitude : magnitude;
    }
}
