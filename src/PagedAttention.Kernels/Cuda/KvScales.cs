namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// One layer's FP8 KV-cache scales: a key is stored as E4M3(k / <see cref="K"/>) and read back as code × K, a value
/// likewise with <see cref="V"/> (<see cref="Fp8KvCache"/>). Passed to the FP8 variants of the cache write and the
/// attention kernels; a null <see cref="KvScales"/> selects the bf16 kernels.
/// </summary>
/// <param name="K">The key scale (finite, positive).</param>
/// <param name="V">The value scale (finite, positive).</param>
internal readonly record struct KvScales(float K, float V);
