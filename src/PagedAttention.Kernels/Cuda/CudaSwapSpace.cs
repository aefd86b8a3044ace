using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// The swap space of a <see cref="CudaKvCache"/>: page-locked host blocks (cuMemAllocHost, so copies are true DMA and
/// asynchronous) and a copy stream of its own. A host block holds a device block's layers in order, K then V for each
/// layer. Ordering is by events: a batch of copies first waits on the compute stream (what it has queued may write the
/// blocks being copied out, or still read the blocks being overwritten), and the compute stream then waits on the copy
/// stream before its next kernels (the next step may reuse the released device blocks, or read the copied-in ones).
/// The copies overlap the host's work between steps, not the device's compute: the engine queues them right before the
/// forward pass that depends on them. Host blocks are reused only by later copies on the same copy stream, which runs
/// them in order. Step-loop thread only.
/// </summary>
internal sealed unsafe class CudaSwapSpace : IDisposable
{
    private readonly CudaDevice _device;
    private readonly CudaKvCache _cache;
    private readonly PinnedHostBuffer _host;
    private readonly nint _copyStream, _computeDone, _copyDone;
    private bool _disposed;

    public CudaSwapSpace(CudaDevice device, CudaKvCache cache, int numBlocks)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        _device = device;
        _cache = cache;
        NumBlocks = numBlocks;
        BytesPerBlock = CudaKvCache.BytesPerBlock(cache.NumLayers, cache.BlockSize, cache.NumKvHeads, cache.HeadDim);
        device.MakeCurrent();
        _host = new PinnedHostBuffer(device, BytesPerBlock * numBlocks);
        var f = CuDriver.Fn;
        nint stream, a, b;
        CuDriver.Check(f.cuStreamCreate(&stream, 1 /* CU_STREAM_NON_BLOCKING */), "cuStreamCreate");
        _copyStream = stream;
        CuDriver.Check(f.cuEventCreate(&a, 2 /* CU_EVENT_DISABLE_TIMING */), "cuEventCreate");
        CuDriver.Check(f.cuEventCreate(&b, 2 /* CU_EVENT_DISABLE_TIMING */), "cuEventCreate");
        _computeDone = a;
        _copyDone = b;
    }

    /// <summary>Host blocks.</summary>
    public int NumBlocks { get; }

    /// <summary>Bytes of one block (all layers, K and V).</summary>
    public long BytesPerBlock { get; }

    /// <summary>Queues device → host copies of (device id, host id) pairs.</summary>
    public void SwapOut(ReadOnlySpan<int> deviceHost) => Copy(deviceHost, toHost: true);

    /// <summary>Queues host → device copies of (host id, device id) pairs.</summary>
    public void SwapIn(ReadOnlySpan<int> hostDevice) => Copy(hostDevice, toHost: false);

    private void Copy(ReadOnlySpan<int> pairs, bool toHost)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (pairs.Length % 2 != 0) throw new ArgumentException("Swap copies come in pairs.", nameof(pairs));
        if (pairs.Length == 0) return;
        _device.MakeCurrent();
        var f = CuDriver.Fn;
        long layerBytes = _cache.BlockBytes;
        CuDriver.Check(f.cuEventRecord(_computeDone, _device.Stream), "cuEventRecord");
        CuDriver.Check(f.cuStreamWaitEvent(_copyStream, _computeDone, 0), "cuStreamWaitEvent");
        for (int i = 0; i < pairs.Length; i += 2)
        {
            int dev = toHost ? pairs[i] : pairs[i + 1], host = toHost ? pairs[i + 1] : pairs[i];
            if ((uint)dev >= (uint)_cache.NumBlocks || (uint)host >= (uint)NumBlocks)
                throw new ArgumentOutOfRangeException(nameof(pairs), $"Swap copy of device block {dev} / host block {host} is outside the {_cache.NumBlocks} device and {NumBlocks} host blocks.");
            byte* h = (byte*)_host.Pointer + host * BytesPerBlock;
            for (int l = 0; l < _cache.NumLayers; l++)
            {
                ulong k = _cache.Keys(l) + (ulong)(dev * layerBytes), v = _cache.Values(l) + (ulong)(dev * layerBytes);
                byte* hk = h + 2L * l * layerBytes, hv = hk + layerBytes;
                if (toHost)
                {
                    CuDriver.Check(f.cuMemcpyDtoHAsync(hk, k, (nuint)layerBytes, _copyStream), "cuMemcpyDtoHAsync");
                    CuDriver.Check(f.cuMemcpyDtoHAsync(hv, v, (nuint)layerBytes, _copyStream), "cuMemcpyDtoHAsync");
                }
                else
                {
                    CuDriver.Check(f.cuMemcpyHtoDAsync(k, hk, (nuint)layerBytes, _copyStream), "cuMemcpyHtoDAsync");
                    CuDriver.Check(f.cuMemcpyHtoDAsync(v, hv, (nuint)layerBytes, _copyStream), "cuMemcpyHtoDAsync");
                }
            }
        }
        CuDriver.Check(f.cuEventRecord(_copyDone, _copyStream), "cuEventRecord");
        CuDriver.Check(f.cuStreamWaitEvent(_device.Stream, _copyDone, 0), "cuStreamWaitEvent");
    }

    /// <summary>Waits for every queued copy (tests and measurements).</summary>
    public void Synchronize()
    {
        _device.MakeCurrent();
        CuDriver.Check(CuDriver.Fn.cuStreamSynchronize(_copyStream), "cuStreamSynchronize");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_device.IsDisposed)
        {
            _device.MakeCurrent();
            var f = CuDriver.Fn;
            f.cuStreamSynchronize(_copyStream);
            f.cuStreamDestroy(_copyStream);
            f.cuEventDestroy(_computeDone);
            f.cuEventDestroy(_copyDone);
        }
        _host.Dispose();
    }
}
