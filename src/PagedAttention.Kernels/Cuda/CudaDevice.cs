using System.Runtime.InteropServices;
using System.Text;
using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// One GPU: its primary context, one non-blocking stream on which all work of this library is queued, and a cuBLAS
/// handle bound to that stream. Not thread-safe: one caller at a time (the engine's step loop).
/// </summary>
internal unsafe class CudaDevice : IDisposable
{
    private const int AttrMultiprocessorCount = 16, AttrCcMajor = 75, AttrCcMinor = 76, AttrMaxSharedPerBlockOptIn = 97;
    private readonly int _ordinal;
    private readonly nint _context;
    private nint _stream;
    private bool _disposed;

    private CudaDevice(int ordinal, RuntimeSwitches switches)
    {
        var f = CuDriver.Fn;
        int count, dev;
        CuDriver.Check(f.cuDeviceGetCount(&count), "cuDeviceGetCount");
        if (ordinal >= count) throw new CudaException($"CUDA device {ordinal} requested, but {count} device(s) are present.");
        CuDriver.Check(f.cuDeviceGet(&dev, ordinal), "cuDeviceGet");
        _ordinal = dev;
        var name = stackalloc byte[256];
        CuDriver.Check(f.cuDeviceGetName(name, 256, dev), "cuDeviceGetName");
        Name = Marshal.PtrToStringAnsi((nint)name) ?? "";
        int major, minor, sms, driver;
        CuDriver.Check(f.cuDeviceGetAttribute(&major, AttrCcMajor, dev), "cuDeviceGetAttribute");
        CuDriver.Check(f.cuDeviceGetAttribute(&minor, AttrCcMinor, dev), "cuDeviceGetAttribute");
        CuDriver.Check(f.cuDeviceGetAttribute(&sms, AttrMultiprocessorCount, dev), "cuDeviceGetAttribute");
        CuDriver.Check(f.cuDriverGetVersion(&driver), "cuDriverGetVersion");
        int smemOptIn;
        CuDriver.Check(f.cuDeviceGetAttribute(&smemOptIn, AttrMaxSharedPerBlockOptIn, dev), "cuDeviceGetAttribute");
        MaxSharedMemoryPerBlockOptIn = smemOptIn;
        ComputeCapability = (major, minor);
        MultiprocessorCount = sms;
        DriverVersion = driver;
        nuint total;
        CuDriver.Check(f.cuDeviceTotalMem(&total, dev), "cuDeviceTotalMem");
        TotalMemory = (long)total;
        nint ctx;
        CuDriver.Check(f.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
        _context = ctx;
        MakeCurrent();
        nint stream;
        CuDriver.Check(f.cuStreamCreate(&stream, 1 /* CU_STREAM_NON_BLOCKING */), "cuStreamCreate");
        _stream = stream;
        Blas = new CudaBlas(this, switches);
    }

    /// <summary>Whether libcuda.so.1 loads and reports at least one device; never throws.</summary>
    public static bool IsAvailable
    {
        get
        {
            if (!CuDriver.IsLibraryPresent()) return false;
            try
            {
                int n;
                return CuDriver.Fn.cuDeviceGetCount(&n) == 0 && n > 0;
            }
            catch (CudaException) { return false; }
        }
    }

    /// <summary>
    /// What of CUDA is missing for this library: null when the driver loads and reports a GPU and NVRTC, cuBLAS and
    /// cuBLASLt load; otherwise a sentence naming the first missing piece. Never throws.
    /// </summary>
    public static string? MissingComponent()
    {
        if (!CuDriver.IsLibraryPresent()) return "libcuda.so.1 could not be loaded (no NVIDIA driver on this machine)";
        if (!IsAvailable) return "the NVIDIA driver is present but reports no usable GPU";
        try { _ = NvrtcCompiler.Version; }
        catch (Exception ex) { return $"NVRTC could not be loaded ({ex.Message})"; }
        try { _ = CublasNative.Instance; }
        catch (Exception ex) { return $"cuBLAS could not be loaded ({ex.Message})"; }
        try { _ = CublasLtNative.Instance; }
        catch (Exception ex) { return $"cuBLASLt could not be loaded ({ex.Message})"; }
        return null;
    }

    /// <summary>Opens device <paramref name="ordinal"/>; <paramref name="switches"/> configure its <see cref="Blas"/>.</summary>
    /// <exception cref="CudaException">No driver, no such device, or a driver call failed; the message says which.</exception>
    public static CudaDevice Open(RuntimeSwitches switches, int ordinal = 0)
    {
        ArgumentNullException.ThrowIfNull(switches);
        ArgumentOutOfRangeException.ThrowIfNegative(ordinal);
        return new CudaDevice(ordinal, switches);
    }

    /// <summary>The driver's device handle (CUdevice), for attribute queries.</summary>
    internal int Handle => _ordinal;

    /// <summary>The device name, e.g. "NVIDIA H100 80GB HBM3".</summary>
    public string Name { get; }

    /// <summary>Compute capability, e.g. (9, 0).</summary>
    public (int Major, int Minor) ComputeCapability { get; }

    /// <summary>Streaming multiprocessors.</summary>
    public int MultiprocessorCount { get; }

    /// <summary>Most shared memory one CTA may use when a kernel opts in (bytes; 227 KB on Hopper, 163 KB on A100, 99 KB on sm_86/89).</summary>
    public int MaxSharedMemoryPerBlockOptIn { get; }

    /// <summary>Driver version as CUDA encodes it (13000 = 13.0).</summary>
    public int DriverVersion { get; }

    /// <summary>Device memory in bytes.</summary>
    public long TotalMemory { get; }

    /// <summary>Free device memory in bytes, now.</summary>
    public long FreeMemory
    {
        get
        {
            MakeCurrent();
            nuint free, total;
            CuDriver.Check(CuDriver.Fn.cuMemGetInfo(&free, &total), "cuMemGetInfo");
            return (long)free;
        }
    }

    /// <summary>The stream all work is queued on (a CUstream).</summary>
    public nint Stream
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _stream;
        }
    }

    /// <summary>bf16 GEMMs on this device's stream.</summary>
    public CudaBlas Blas { get; }

    internal bool IsDisposed => _disposed;

    /// <summary>Makes this device's context current on the calling thread (cheap; call before work from a new thread).</summary>
    public void MakeCurrent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CuDriver.Check(CuDriver.Fn.cuCtxSetCurrent(_context), "cuCtxSetCurrent");
    }

    /// <summary>Allocates <paramref name="bytes"/> of device memory (not zeroed).</summary>
    public DeviceBuffer Allocate(long bytes) => new(this, bytes);

    /// <summary>Waits for all work queued on <see cref="Stream"/>.</summary>
    public void Synchronize()
    {
        MakeCurrent();
        CuDriver.Check(CuDriver.Fn.cuStreamSynchronize(_stream), "cuStreamSynchronize");
    }

    /// <summary>Queues <paramref name="work"/> between two events and returns the GPU time it took, in milliseconds.</summary>
    public float Time(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        MakeCurrent();
        var f = CuDriver.Fn;
        nint start, stop;
        CuDriver.Check(f.cuEventCreate(&start, 0), "cuEventCreate");
        CuDriver.Check(f.cuEventCreate(&stop, 0), "cuEventCreate");
        try
        {
            CuDriver.Check(f.cuEventRecord(start, _stream), "cuEventRecord");
            work();
            CuDriver.Check(f.cuEventRecord(stop, _stream), "cuEventRecord");
            CuDriver.Check(f.cuEventSynchronize(stop), "cuEventSynchronize");
            float ms;
            CuDriver.Check(f.cuEventElapsedTime(&ms, start, stop), "cuEventElapsedTime");
            return ms;
        }
        finally
        {
            f.cuEventDestroy(start);
            f.cuEventDestroy(stop);
        }
    }

    /// <summary>Whether <see cref="Capture"/> is recording (work queued now is not run).</summary>
    public bool IsCapturing { get; private set; }

    /// <summary>
    /// Records the kernels and copies that <paramref name="work"/> queues on <see cref="Stream"/> into a CUDA graph
    /// instead of running them; replay it with <see cref="CudaGraph.Launch"/>. Pointers and scalars are frozen.
    /// </summary>
    public CudaGraph Capture(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        MakeCurrent();
        var f = CuDriver.Fn;
        CuDriver.Check(f.cuStreamBeginCapture(_stream, 1 /* CU_STREAM_CAPTURE_MODE_THREAD_LOCAL */), "cuStreamBeginCapture");
        nint graph = 0;
        IsCapturing = true;
        try { work(); }
        finally
        {
            IsCapturing = false;
            CuDriver.Check(f.cuStreamEndCapture(_stream, &graph), "cuStreamEndCapture");
        }
        nint exec;
        try { CuDriver.Check(f.cuGraphInstantiateWithFlags(&exec, graph, 0), "cuGraphInstantiateWithFlags"); }
        finally { f.cuGraphDestroy(graph); }
        return new CudaGraph(this, exec);
    }

    /// <summary>A one-line description: name, compute capability, SMs, memory, driver.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(Name).Append(", sm_").Append(ComputeCapability.Major).Append(ComputeCapability.Minor)
          .Append(", ").Append(MultiprocessorCount).Append(" SMs, ").Append(TotalMemory >> 20).Append(" MiB, driver ")
          .Append(DriverVersion / 1000).Append('.').Append(DriverVersion % 1000 / 10);
        return sb.ToString();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        MakeCurrent();
        Blas.Dispose();
        CuDriver.Fn.cuStreamSynchronize(_stream);
        CuDriver.Fn.cuStreamDestroy(_stream);
        _stream = 0;
        _disposed = true;
        CuDriver.Fn.cuDevicePrimaryCtxRelease(_ordinal);
    }
}
