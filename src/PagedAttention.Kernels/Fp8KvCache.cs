namespace PagedAttention.Kernels;

/// <summary>
/// The FP8 KV cache's element rule (the host reference of <c>rope_qkv_write_fp8</c> and of the FP8 attention kernels'
/// reads): a K or V element x of a layer with scale s is stored as the E4M3 code of x / s (nearest, ties to the even
/// code, saturated to ±448, NaN kept as NaN: <see cref="Fp8E4M3.FromSingle"/>) and read as code × s. Without a
/// calibrated scale in the checkpoint s is 1 (vLLM's default for <c>kv_cache_dtype="fp8"</c>).
/// </summary>
internal static class Fp8KvCache
{
    /// <summary>Bytes of one cache element (bf16 caches have 2).</summary>
    public const int ElementBytes = 1;

    /// <summary>The scale of a layer whose checkpoint has none.</summary>
    public const float DefaultScale = 1f;

    /// <summary>The code stored for <paramref name="x"/> in a layer with <paramref name="scale"/>.</summary>
    public static byte Encode(float x, float scale) => Fp8E4M3.FromSingle(x / scale);

    /// <summary>The value a reader sees for <paramref name="code"/> in a layer with <paramref name="scale"/>.</summary>
    public static float Decode(byte code, float scale) => Fp8E4M3.ToSingle(code) * scale;
}
