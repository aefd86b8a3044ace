using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// Page-locked host memory (cuMemAllocHost): the staging area for asynchronous copies between host and device, so a
/// step's inputs go up in one copy queued on the device's stream.
/// </summary>
internal unsafe class PinnedHostBuffer : IDisposable
{
    private readonly CudaDevice _device;
    private void* _ptr;

    /// <summary>Allocates <paramref name="bytes"/> of pinned memory.</summary>
    public PinnedHostBuffer(CudaDevice device, long bytes)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        _device = device;
        device.MakeCurrent();
        void* p;
        CuDriver.Check(CuDriver.Fn.cuMemAllocHost(&p, (nuint)bytes), $"cuMemAllocHost({bytes} bytes)");
        _ptr = p;
        Bytes = bytes;
    }

    /// <summary>Size in bytes.</summary>
    public long Bytes { get; }

    /// <summary>The host address (valid until disposed).</summary>
    public void* Pointer => _ptr;

    /// <summary>The memory as elements of <typeparamref name="T"/>, starting at <paramref name="byteOffset"/>.</summary>
    public Span<T> AsSpan<T>(long byteOffset, int count) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_ptr == null, this);
        if (byteOffset < 0 || count < 0 || byteOffset + (long)count * sizeof(T) > Bytes) throw new ArgumentOutOfRangeException(nameof(count));
        return new Span<T>((byte*)_ptr + byteOffset, count);
    }

    /// <summary>Queues a copy of the first <paramref name="bytes"/> bytes to <paramref name="dst"/> on the device's stream.</summary>
    public void CopyToDeviceAsync(DeviceBuffer dst, long bytes)
    {
        ArgumentNullException.ThrowIfNull(dst);
        if (bytes < 0 || bytes > Bytes || bytes > dst.Bytes) throw new ArgumentOutOfRangeException(nameof(bytes));
        if (bytes == 0) return;
        _device.MakeCurrent();
        CuDriver.Check(CuDriver.Fn.cuMemcpyHtoDAsync(dst.Ptr, _ptr, (nuint)bytes, _device.Stream), "cuMemcpyHtoDAsync");
    }

    /// <summary>Queues a copy of <paramref name="bytes"/> bytes from device address <paramref name="src"/> into this buffer.</summary>
    public void CopyFromDeviceAsync(ulong src, long bytes) => CopyFromDeviceAsync(src, bytes, 0);

    /// <summary>
    /// Queues a copy of <paramref name="bytes"/> bytes from device address <paramref name="src"/> into this buffer at
    /// <paramref name="byteOffset"/>.
    /// </summary>
    public void CopyFromDeviceAsync(ulong src, long bytes, long byteOffset)
    {
        if (src == 0) throw new ArgumentException("Not a device address.", nameof(src));
        if (byteOffset < 0 || bytes < 0 || byteOffset + bytes > Bytes) throw new ArgumentOutOfRangeException(nameof(bytes));
        if (bytes == 0) return;
        _device.MakeCurrent();
        CuDriver.Check(CuDriver.Fn.cuMemcpyDtoHAsync((byte*)_ptr + byteOffset, src, (nuint)bytes, _device.Stream), "cuMemcpyDtoHAsync");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ptr == null) return;
        if (!_device.IsDisposed) CuDriver.Fn.cuMemFreeHost(_ptr);
        _ptr = null;
    }
}
