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
/// Two ways to copy: two cuMemcpyAsync per layer per block (without kernels), or, given <see cref="CudaKernels"/> (what the
/// CUDA runner passes unless <see cref="RuntimeSwitches.SwapCopyKernel"/> is off), one
/// <c>kv_swap_copy</c> launch per batch (kv_swap.cu) that reads and writes the mapped host blocks directly; its
/// (device, host) pairs go through a ring of page-locked slots, each reused only after the launch that read it has run.
/// Either way each batch is timed on the copy stream (<see cref="CopySeconds"/>, <see cref="SwapCopyTimer"/>): the
/// calls only queue the copies, so the time spent in them says nothing of how long the copies take.
/// </summary>
internal sealed unsafe class CudaSwapSpace : IDisposable
{
    private readonly CudaDevice _device;
    private readonly CudaKvCache _cache;
    private readonly PinnedHostBuffer _host;
    private readonly nint _copyStream, _computeDone, _copyDone;
    private readonly CudaKernels? _kernels;
    private readonly DeviceBuffer? _slices;           // [2 * layers] pool bases: K0, V0, K1, V1, ...
    private readonly PinnedHostBuffer? _pairSlots;    // SlotCount x SlotPairs (device, host) pairs
    private readonly nint[] _slotRead = [];           // recorded after the launch that read slot i (never recorded: no wait)
    private readonly SwapCopyTimer _timer;            // (start, end) timing events around each batch, on the copy stream
    private readonly ulong _hostDevicePtr, _pairSlotsDevicePtr;
    private int _nextSlot;
    private bool _disposed;

    /// <summary>Pairs per slot of the kernel path's ring (8 bytes each); a larger batch takes several launches.</summary>
    internal const int SlotPairs = 16384;

    /// <summary>Slots of the ring: a slot is rewritten only after the launch that read it has run.</summary>
    internal const int SlotCount = 4;

    /// <summary>Allocates <paramref name="numBlocks"/> host blocks for <paramref name="cache"/>; copies with cuMemcpyAsync.</summary>
    public CudaSwapSpace(CudaDevice device, CudaKvCache cache, int numBlocks) : this(device, cache, numBlocks, null) { }

    /// <summary>
    /// Allocates <paramref name="numBlocks"/> host blocks for <paramref name="cache"/>; with <paramref name="kernels"/>
    /// (and layer slices of a multiple of 16 bytes) the copies run as <c>kv_swap_copy</c> launches.
    /// </summary>
    public CudaSwapSpace(CudaDevice device, CudaKvCache cache, int numBlocks, CudaKernels? kernels)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        _device = device;
        _cache = cache;
        NumBlocks = numBlocks;
        BytesPerBlock = cache.BytesPerBlockAllLayers; // the cache's element size (FP8 blocks are half as large)
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
        _timer = new SwapCopyTimer(new StreamEvents(stream));
        if (kernels is null || cache.BlockBytes % 16 != 0) return;
        _kernels = kernels;
        ulong hd;
        CuDriver.Check(f.cuMemHostGetDevicePointer(&hd, _host.Pointer, 0), "cuMemHostGetDevicePointer");
        _hostDevicePtr = hd;
        _pairSlots = new PinnedHostBuffer(device, (long)SlotCount * SlotPairs * 2 * sizeof(int));
        CuDriver.Check(f.cuMemHostGetDevicePointer(&hd, _pairSlots.Pointer, 0), "cuMemHostGetDevicePointer");
        _pairSlotsDevicePtr = hd;
        var bases = new ulong[2 * cache.NumLayers];
        for (int l = 0; l < cache.NumLayers; l++) { bases[2 * l] = cache.Keys(l); bases[2 * l + 1] = cache.Values(l); }
        _slices = new DeviceBuffer(device, bases.Length * sizeof(ulong));
        _slices.Upload<ulong>(bases);
        _slotRead = new nint[SlotCount];
        for (int i = 0; i < SlotCount; i++)
        {
            nint e;
            CuDriver.Check(f.cuEventCreate(&e, 2 /* CU_EVENT_DISABLE_TIMING */), "cuEventCreate");
            _slotRead[i] = e;
        }
    }

    /// <summary>Whether copies run as <c>kv_swap_copy</c> launches rather than cuMemcpyAsync calls.</summary>
    public bool UsesCopyKernel => _kernels is not null;

    /// <summary>
    /// Device seconds of the copy batches known to have finished (CUDA events around each batch on the copy stream, read
    /// by <see cref="PollCopyTimes"/>, the next copy or <see cref="Synchronize"/>); any thread.
    /// </summary>
    public double CopySeconds => _timer.Seconds;

    /// <summary>Copy batches timed so far (<see cref="CopySeconds"/>).</summary>
    public long TimedBatches => _timer.Batches;

    /// <summary>Adds the finished batches to <see cref="CopySeconds"/> (never waits; call after a step has completed).</summary>
    public void PollCopyTimes()
    {
        if (_disposed || _timer.Pending == 0) return;
        _device.MakeCurrent();
        _timer.Poll();
    }

    /// <summary>Overwrites one host block (checks: fills blocks with known bytes; no copy may be in flight).</summary>
    internal void WriteHostBlock(int block, ReadOnlySpan<byte> bytes)
    {
        if ((uint)block >= (uint)NumBlocks) throw new ArgumentOutOfRangeException(nameof(block));
        if (bytes.Length != BytesPerBlock) throw new ArgumentException($"A host block is {BytesPerBlock} bytes.", nameof(bytes));
        bytes.CopyTo(_host.AsSpan<byte>(block * BytesPerBlock, bytes.Length));
    }

    /// <summary>One host block's bytes (tests and checks: read after <see cref="Synchronize"/>).</summary>
    internal ReadOnlySpan<byte> HostBlock(int block)
    {
        if ((uint)block >= (uint)NumBlocks) throw new ArgumentOutOfRangeException(nameof(block));
        return _host.AsSpan<byte>(block * BytesPerBlock, checked((int)BytesPerBlock));
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
        for (int i = 0; i < pairs.Length; i += 2)
        {
            int dev = toHost ? pairs[i] : pairs[i + 1], host = toHost ? pairs[i + 1] : pairs[i];
            if ((uint)dev >= (uint)_cache.NumBlocks || (uint)host >= (uint)NumBlocks)
                throw new ArgumentOutOfRangeException(nameof(pairs), $"Swap copy of device block {dev} / host block {host} is outside the {_cache.NumBlocks} device and {NumBlocks} host blocks.");
        }
        _device.MakeCurrent();
        var f = CuDriver.Fn;
        long layerBytes = _cache.BlockBytes;
        _timer.Poll(); // the batches that ran meanwhile (keeps the timing pairs in flight few)
        CuDriver.Check(f.cuEventRecord(_computeDone, _device.Stream), "cuEventRecord");
        CuDriver.Check(f.cuStreamWaitEvent(_copyStream, _computeDone, 0), "cuStreamWaitEvent");
        _timer.Begin(); // after the wait: the batch's time starts when its copies can start
        if (_kernels is not null) CopyByKernel(pairs, toHost);
        else CopyByMemcpy(pairs, toHost, layerBytes);
        _timer.End();
        CuDriver.Check(f.cuEventRecord(_copyDone, _copyStream), "cuEventRecord");
        CuDriver.Check(f.cuStreamWaitEvent(_device.Stream, _copyDone, 0), "cuStreamWaitEvent");
    }

    private void CopyByKernel(ReadOnlySpan<int> pairs, bool toHost)
    {
        var f = CuDriver.Fn;
        for (int at = 0; at < pairs.Length; at += 2 * SlotPairs)
        {
            int n = Math.Min(SlotPairs, (pairs.Length - at) / 2), slot = _nextSlot;
            _nextSlot = (slot + 1) % SlotCount;
            // The slot's previous launch must have read it before it is rewritten (it ran long ago, as a rule; an event
            // never recorded returns at once).
            CuDriver.Check(f.cuEventSynchronize(_slotRead[slot]), "cuEventSynchronize");
            var dst = _pairSlots!.AsSpan<int>((long)slot * SlotPairs * 2 * sizeof(int), 2 * n);
            // The kernel takes (device, host) pairs in both directions.
            for (int i = 0; i < n; i++)
            {
                int a = pairs[at + 2 * i], b = pairs[at + 2 * i + 1];
                dst[2 * i] = toHost ? a : b;
                dst[2 * i + 1] = toHost ? b : a;
            }
            _kernels!.KvSwapCopy(_copyStream, _pairSlotsDevicePtr + (ulong)((long)slot * SlotPairs * 2 * sizeof(int)), n,
                _slices!.Ptr, 2 * _cache.NumLayers, _hostDevicePtr, BytesPerBlock, _cache.BlockBytes, toHost);
            CuDriver.Check(f.cuEventRecord(_slotRead[slot], _copyStream), "cuEventRecord");
        }
    }

    private void CopyByMemcpy(ReadOnlySpan<int> pairs, bool toHost, long layerBytes)
    {
        var f = CuDriver.Fn;
        for (int i = 0; i < pairs.Length; i += 2)
        {
            int dev = toHost ? pairs[i] : pairs[i + 1], host = toHost ? pairs[i + 1] : pairs[i];
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
    }

    /// <summary>Waits for every queued copy (tests and measurements); <see cref="CopySeconds"/> then counts them all.</summary>
    public void Synchronize()
    {
        _device.MakeCurrent();
        CuDriver.Check(CuDriver.Fn.cuStreamSynchronize(_copyStream), "cuStreamSynchronize");
        _timer.Poll();
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
            _timer.Dispose();
            f.cuStreamDestroy(_copyStream);
            f.cuEventDestroy(_computeDone);
            f.cuEventDestroy(_copyDone);
            foreach (var e in _slotRead) f.cuEventDestroy(e);
        }
        _slices?.Dispose();
        _pairSlots?.Dispose();
        _host.Dispose();
    }

    /// <summary>Timing events on one stream (<see cref="SwapCopyTimer"/>); the device's context is current at every call.</summary>
    private sealed class StreamEvents(nint stream) : ICopyEvents
    {
        public nint Create()
        {
            nint e;
            CuDriver.Check(CuDriver.Fn.cuEventCreate(&e, 0 /* CU_EVENT_DEFAULT: timed */), "cuEventCreate");
            return e;
        }

        public void Record(nint e) => CuDriver.Check(CuDriver.Fn.cuEventRecord(e, stream), "cuEventRecord");

        public bool HasCompleted(nint e)
        {
            int r = CuDriver.Fn.cuEventQuery(e);
            if (r == CuDriver.NotReady) return false;
            CuDriver.Check(r, "cuEventQuery");
            return true;
        }

        public float ElapsedMilliseconds(nint start, nint end)
        {
            float ms;
            CuDriver.Check(CuDriver.Fn.cuEventElapsedTime(&ms, start, end), "cuEventElapsedTime");
            return ms;
        }

        public void Destroy(nint e) => CuDriver.Fn.cuEventDestroy(e);
    }
}
