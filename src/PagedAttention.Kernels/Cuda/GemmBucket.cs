namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// The shape buckets that cuBLASLt algorithm choices are cached by: the row count M rounded up to a power of two up to
/// <see cref="LargestPowerOfTwo"/>, then to a multiple of it. Decode steps replayed from CUDA graphs are padded to powers
/// of two, so their M is always the top of its bucket, the shape the algorithm was chosen for.
/// </summary>
internal static class GemmBucket
{
    /// <summary>Buckets above this many rows are multiples of it.</summary>
    public const int LargestPowerOfTwo = 8192;

    /// <summary>The bucket (its largest M) that <paramref name="m"/> rows fall into.</summary>
    public static int Of(int m)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(m);
        if (m > LargestPowerOfTwo) return (int)Math.Min(int.MaxValue, ((long)m + LargestPowerOfTwo - 1) / LargestPowerOfTwo * LargestPowerOfTwo);
        int b = 1;
        while (b < m) b <<= 1;
        return b;
    }
}
