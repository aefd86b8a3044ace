namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// A float weight matrix (F32, F16 or BF16) copied out of the checkpoint's memory-mapped file into native memory this
/// object owns, on huge pages where the OS gives them (<see cref="HugePageMemory"/>); <see cref="Matrix"/> is the view
/// the kernels read, the same elements as the source. Dispose after the last kernel call.
/// </summary>
internal sealed unsafe class WeightCopy : IDisposable
{
    private void* _data;

    private WeightCopy(void* data, in WeightMatrix source)
    {
        _data = data;
        Matrix = new WeightMatrix((nint)data, source.DType, source.Rows, source.Cols);
    }

    /// <summary>The copy.</summary>
    public WeightMatrix Matrix { get; }

    /// <summary>
    /// Copies <paramref name="source"/>; with <paramref name="releaseSource"/> the source's pages are then unmapped
    /// (<see cref="HugePageMemory.ReleaseFileRange"/>; only for a read-only file mapping, which a later read maps again).
    /// </summary>
    /// <exception cref="ArgumentException">The source is uninitialised or not F32, F16 or BF16.</exception>
    public static WeightCopy Of(in WeightMatrix source, bool releaseSource)
    {
        if (source.Data == 0) throw new ArgumentException("The weight matrix is uninitialised.", nameof(source));
        if (source.DType is not (DType.F32 or DType.F16 or DType.BF16))
            throw new ArgumentException($"Only F32, F16 and BF16 matrices are copied, not {source.DType}.", nameof(source));
        long bytes = (long)source.Rows * source.Cols * source.DType.SizeInBytes();
        void* p = HugePageMemory.Alloc((nuint)bytes, hugePages: true);
        Buffer.MemoryCopy((void*)source.Data, p, bytes, bytes);
        if (releaseSource) HugePageMemory.ReleaseFileRange(source.Data, (nuint)bytes);
        return new WeightCopy(p, source);
    }

    public void Dispose()
    {
        HugePageMemory.Free(_data);
        _data = null;
    }
}
