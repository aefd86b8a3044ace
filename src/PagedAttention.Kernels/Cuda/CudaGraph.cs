using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Kernels.Cuda;

/// <summary>An instantiated CUDA graph captured by <see cref="CudaDevice.Capture"/>; each launch replays it on the device's stream.</summary>
internal unsafe class CudaGraph : IDisposable
{
    private readonly CudaDevice _device;
    private nint _exec;

    internal CudaGraph(CudaDevice device, nint exec)
    {
        _device = device;
        _exec = exec;
    }

    /// <summary>Queues one replay of the graph.</summary>
    public void Launch()
    {
        ObjectDisposedException.ThrowIf(_exec == 0, this);
        _device.MakeCurrent();
        CuDriver.Check(CuDriver.Fn.cuGraphLaunch(_exec, _device.Stream), "cuGraphLaunch");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_exec == 0) return;
        if (!_device.IsDisposed) CuDriver.Fn.cuGraphExecDestroy(_exec);
        _exec = 0;
    }
}
