using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// A block of device memory (cuMemAlloc). Uploads and downloads are ordered on the device's stream and return when done;
/// the owning <see cref="CudaDevice"/> must stay alive while the buffer is in use.
/// </summary>
internal unsafe class DeviceBuffer : IDisposable
{
    private readonly CudaDevice _device;
    private ulong _ptr;

    internal DeviceBuffer(CudaDevice device, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        _device = device;
        device.MakeCurrent();
        ulong p;
        CuDriver.Check(CuDriver.Fn.cuMemAlloc(&p, (nuint)bytes), $"cuMemAlloc({bytes} bytes)");
        _ptr = p;
        Bytes = bytes;
    }

    /// <summary>The device address.</summary>
    public ulong Ptr
    {
        get
        {
            ObjectDisposedException.ThrowIf(_ptr == 0, this);
            return _ptr;
        }
    }

    /// <summary>Size in bytes.</summary>
    public long Bytes { get; }

    /// <summary>Copies <paramref name="src"/> to the start of the buffer (plus <paramref name="byteOffset"/>), waiting for the copy.</summary>
    public void Upload<T>(ReadOnlySpan<T> src, long byteOffset = 0) where T : unmanaged
    {
        long bytes = (long)src.Length * sizeof(T);
        CheckRange(byteOffset, bytes);
        if (bytes == 0) return;
        _device.MakeCurrent();
        fixed (T* p = src) CopyIn(p, bytes, byteOffset);
    }

    /// <summary>Copies <paramref name="bytes"/> bytes from host memory at <paramref name="src"/> (e.g. a mapped file).</summary>
    public void Upload(nint src, long bytes, long byteOffset = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (src == 0) throw new ArgumentNullException(nameof(src));
        CheckRange(byteOffset, bytes);
        if (bytes == 0) return;
        _device.MakeCurrent();
        CopyIn((void*)src, bytes, byteOffset);
    }

    // Queued on the device's (non-blocking) stream, then waited for: a plain cuMemcpyHtoD runs on the legacy stream,
    // which is not ordered with non-blocking streams, and may return before its DMA has landed.
    private void CopyIn(void* src, long bytes, long byteOffset)
    {
        CuDriver.Check(CuDriver.Fn.cuMemcpyHtoDAsync(Ptr + (ulong)byteOffset, src, (nuint)bytes, _device.Stream), "cuMemcpyHtoDAsync");
        CuDriver.Check(CuDriver.Fn.cuStreamSynchronize(_device.Stream), "cuStreamSynchronize");
    }

    /// <summary>Copies the start of the buffer (plus <paramref name="byteOffset"/>) into <paramref name="dst"/>, after all work queued on the device's stream.</summary>
    public void Download<T>(Span<T> dst, long byteOffset = 0) where T : unmanaged
    {
        long bytes = (long)dst.Length * sizeof(T);
        CheckRange(byteOffset, bytes);
        if (bytes == 0) return;
        _device.Synchronize();
        fixed (T* p = dst) CuDriver.Check(CuDriver.Fn.cuMemcpyDtoH(p, Ptr + (ulong)byteOffset, (nuint)bytes), "cuMemcpyDtoH");
    }

    /// <summary>Sets every byte to zero, on the device's stream.</summary>
    public void Clear()
    {
        _device.MakeCurrent();
        CuDriver.Check(CuDriver.Fn.cuMemsetD8Async(Ptr, 0, (nuint)Bytes, _device.Stream), "cuMemsetD8Async");
    }

    /// <summary>Reads the whole buffer as <typeparamref name="T"/> elements (tests and diagnostics).</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        var a = new T[Bytes / sizeof(T)];
        Download<T>(a);
        return a;
    }

    private void CheckRange(long offset, long bytes)
    {
        if (offset < 0 || bytes < 0 || offset + bytes > Bytes)
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, {offset + bytes}) is outside the buffer of {Bytes} bytes.");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ptr == 0) return;
        if (!_device.IsDisposed)
        {
            _device.MakeCurrent();
            CuDriver.Fn.cuMemFree(_ptr);
        }
        _ptr = 0;
    }
}
