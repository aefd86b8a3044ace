namespace PagedAttention.Kernels;

/// <summary>
/// The OCP FP8 E4M3 "FN" format (<c>torch.float8_e4m3fn</c>, safetensors <c>F8_E4M3</c>): 1 sign bit, 4 exponent bits
/// (bias 7), 3 mantissa bits, subnormals, no infinities, NaN = S.1111.111; largest finite value 448.
/// </summary>
internal static class Fp8E4M3
{
    /// <summary>The largest finite magnitude.</summary>
    public const float MaxFinite = 448f;

    /// <summary>
    /// The E4M3 code nearest to <paramref name="value"/>, ties to the even code (as <c>torch.float8_e4m3fn</c> casts);
    /// magnitudes of 448 and above saturate to ±448 (compressed-tensors clamps before casting); NaN gives the NaN code.
    /// Not a hot path (weights are encoded once).
    /// </summary>
    public static byte FromSingle(float value)
    {
        if (float.IsNaN(value)) return 0x7F;
        byte sign = float.IsNegative(value) ? (byte)0x80 : (byte)0;
        float a = MathF.Abs(value);
        if (a >= MaxFinite) return (byte)(sign | 0x7E);
        int lo = 0, hi = 0x7E; // the largest code whose value is <= a, by bisection over the increasing positive codes
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (ToSingle((byte)mid) <= a) lo = mid; else hi = mid - 1;
        }
        if (lo < 0x7E)
        {
            float below = a - ToSingle((byte)lo), above = ToSingle((byte)(lo + 1)) - a;
            if (above < below || (above == below && (lo & 1) == 1)) lo++;
        }
        return (byte)(sign | lo);
    }

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
