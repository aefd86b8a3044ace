namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// Owned native memory on huge pages (<see cref="HugePageMemory"/>) for a model's float weight matrices, copied out of
/// the checkpoint's memory-mapped file (<see cref="Copy"/>). The matrices are packed back to back (64-byte aligned)
/// into chunks of 64 MiB, so a small model's matrices — 0.5–1.3 MB each in the default model — share huge pages
/// instead of each falling below one. Untouched parts of the last chunk are never backed. Dispose after the last
/// kernel call; the copies are then gone.
/// </summary>
internal sealed unsafe class WeightArena : IDisposable
{
    private const nuint ChunkBytes = 64u << 20;
    private readonly List<nint> _chunks = [];
    private byte* _next;
    private nuint _left;

    /// <summary>Bytes copied into the arena so far.</summary>
    public long Bytes { get; private set; }

    /// <summary>
    /// Copies <paramref name="source"/> (F32, F16 or BF16) into the arena and returns the view of the copy: the same
    /// elements, dtype and shape. With <paramref name="releaseSource"/> the source's pages are unmapped afterwards
    /// (<see cref="HugePageMemory.ReleaseFileRange"/>: only for a read-only file mapping, which a later read maps again).
    /// </summary>
    /// <exception cref="ArgumentException">The source is uninitialised or not F32, F16 or BF16.</exception>
    public WeightMatrix Copy(in WeightMatrix source, bool releaseSource)
    {
        if (source.Data == 0) throw new ArgumentException("The weight matrix is uninitialised.", nameof(source));
        if (source.DType is not (DType.F32 or DType.F16 or DType.BF16))
            throw new ArgumentException($"Only F32, F16 and BF16 matrices are copied, not {source.DType}.", nameof(source));
        long bytes = (long)source.Rows * source.Cols * source.DType.SizeInBytes();
        byte* p = Take((nuint)bytes);
        Buffer.MemoryCopy((void*)source.Data, p, bytes, bytes);
        if (releaseSource) HugePageMemory.ReleaseFileRange(source.Data, (nuint)bytes);
        Bytes += bytes;
        return new WeightMatrix((nint)p, source.DType, source.Rows, source.Cols);
    }

    private byte* Take(nuint bytes)
    {
        nuint size = (bytes + 63) & ~(nuint)63;
        if (size > _left)
        {
            nuint chunk = Math.Max(ChunkBytes, (size + HugePageMemory.HugePageBytes - 1) / HugePageMemory.HugePageBytes * HugePageMemory.HugePageBytes);
            _next = (byte*)HugePageMemory.Alloc(chunk, hugePages: true);
            _chunks.Add((nint)_next);
            _left = chunk;
        }
        byte* p = _next;
        _next += size;
        _left -= size;
        return p;
    }

    public void Dispose()
    {
        foreach (var c in _chunks) HugePageMemory.Free((void*)c);
        _chunks.Clear();
        _next = null;
        _left = 0;
    }
}
