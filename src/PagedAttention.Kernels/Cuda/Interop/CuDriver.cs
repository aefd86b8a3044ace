using System.Runtime.InteropServices;

namespace PagedAttention.Kernels.Cuda.Interop;

/// <summary>
/// The CUDA driver API (libcuda.so.1), resolved at run time so that the assembly loads on machines without a GPU.
/// Only the versioned (<c>_v2</c>) entry points with 64-bit sizes are used.
/// </summary>
internal static unsafe class CuDriver
{
    private static readonly Lazy<Api> s_api = new(Api.Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The resolved entry points; the first use loads libcuda and calls cuInit.</summary>
    public static Api Fn => s_api.Value;

    /// <summary>Whether libcuda.so.1 can be loaded at all (no initialisation, no exception).</summary>
    public static bool IsLibraryPresent()
    {
        foreach (var n in Api.Names)
            if (NativeLibrary.TryLoad(n, out var h)) { NativeLibrary.Free(h); return true; }
        return false;
    }

    /// <summary>CUDA_ERROR_NOT_READY: what cuEventQuery / cuStreamQuery return while work is still running.</summary>
    public const int NotReady = 600;

    /// <summary>Throws a <see cref="CudaException"/> naming <paramref name="call"/> unless <paramref name="result"/> is CUDA_SUCCESS.</summary>
    public static void Check(int result, string call)
    {
        if (result == 0) return;
        string name = $"CUresult {result}";
        if (s_api.IsValueCreated)
        {
            byte* p = null;
            if (s_api.Value.cuGetErrorName(result, &p) == 0 && p != null) name = Marshal.PtrToStringAnsi((nint)p) ?? name;
        }
        throw new CudaException(call, result, name);
    }

    /// <summary>Function pointers into libcuda.</summary>
    public sealed class Api
    {
        public static readonly string[] Names = ["libcuda.so.1", "libcuda.so", "nvcuda.dll"];

#pragma warning disable CS0649, IDE1006 // assigned through reflection-free pointer stores below; C names kept on purpose
        public delegate* unmanaged<uint, int> cuInit;
        public delegate* unmanaged<int, byte**, int> cuGetErrorName;
        public delegate* unmanaged<int*, int> cuDriverGetVersion;
        public delegate* unmanaged<int*, int> cuDeviceGetCount;
        public delegate* unmanaged<int*, int, int> cuDeviceGet;
        public delegate* unmanaged<byte*, int, int, int> cuDeviceGetName;
        public delegate* unmanaged<int*, int, int, int> cuDeviceGetAttribute;
        public delegate* unmanaged<nuint*, int, int> cuDeviceTotalMem;
        public delegate* unmanaged<nint*, int, int> cuDevicePrimaryCtxRetain;
        public delegate* unmanaged<int, int> cuDevicePrimaryCtxRelease;
        public delegate* unmanaged<nint, int> cuCtxSetCurrent;
        public delegate* unmanaged<nuint*, nuint*, int> cuMemGetInfo;
        public delegate* unmanaged<ulong*, nuint, int> cuMemAlloc;
        public delegate* unmanaged<ulong, int> cuMemFree;
        public delegate* unmanaged<void**, nuint, int> cuMemAllocHost;
        /// <summary>cuMemHostGetDevicePointer_v2: the device address of page-locked host memory.</summary>
        public delegate* unmanaged<ulong*, void*, uint, int> cuMemHostGetDevicePointer;
        public delegate* unmanaged<void*, int> cuMemFreeHost;
        public delegate* unmanaged<ulong, void*, nuint, int> cuMemcpyHtoD;
        public delegate* unmanaged<void*, ulong, nuint, int> cuMemcpyDtoH;
        public delegate* unmanaged<ulong, void*, nuint, nint, int> cuMemcpyHtoDAsync;
        public delegate* unmanaged<void*, ulong, nuint, nint, int> cuMemcpyDtoHAsync;
        public delegate* unmanaged<ulong, ulong, nuint, nint, int> cuMemcpyDtoDAsync;
        public delegate* unmanaged<ulong, byte, nuint, nint, int> cuMemsetD8Async;
        public delegate* unmanaged<nint*, uint, int> cuStreamCreate;
        public delegate* unmanaged<nint, int> cuStreamDestroy;
        public delegate* unmanaged<nint, int> cuStreamSynchronize;
        public delegate* unmanaged<nint*, uint, int> cuEventCreate;
        public delegate* unmanaged<nint, int> cuEventDestroy;
        public delegate* unmanaged<nint, nint, int> cuEventRecord;
        public delegate* unmanaged<nint, int> cuEventSynchronize;
        /// <summary>cuEventQuery: CUDA_SUCCESS once the work before the event has run, <see cref="CuDriver.NotReady"/> before; never waits.</summary>
        public delegate* unmanaged<nint, int> cuEventQuery;
        public delegate* unmanaged<float*, nint, nint, int> cuEventElapsedTime;
        public delegate* unmanaged<nint, nint, uint, int> cuStreamWaitEvent;
        public delegate* unmanaged<nint*, void*, int> cuModuleLoadData;
        public delegate* unmanaged<nint, int> cuModuleUnload;
        public delegate* unmanaged<nint*, nint, byte*, int> cuModuleGetFunction;
        public delegate* unmanaged<nint, int, int, int> cuFuncSetAttribute;
        public delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int> cuLaunchKernel;
        /// <summary>cuLaunchKernelEx (CUDA 12+), or null on older drivers.</summary>
        public delegate* unmanaged<LaunchConfig*, nint, void**, void**, int> cuLaunchKernelEx;
        public delegate* unmanaged<nint, int, int> cuStreamBeginCapture;
        public delegate* unmanaged<nint, nint*, int> cuStreamEndCapture;
        public delegate* unmanaged<nint*, nint, ulong, int> cuGraphInstantiateWithFlags;
        public delegate* unmanaged<nint, nint, int> cuGraphLaunch;
        public delegate* unmanaged<nint, int> cuGraphExecDestroy;
        public delegate* unmanaged<nint, int> cuGraphDestroy;
#pragma warning restore CS0649, IDE1006

        public static Api Load()
        {
            nint lib = NativeLoader.Load("The CUDA driver (libcuda.so.1)", Names);
            const string w = "libcuda";
            nint E(string s) => NativeLoader.Export(lib, w, s);
            var a = new Api
            {
                cuInit = (delegate* unmanaged<uint, int>)E("cuInit"),
                cuGetErrorName = (delegate* unmanaged<int, byte**, int>)E("cuGetErrorName"),
                cuDriverGetVersion = (delegate* unmanaged<int*, int>)E("cuDriverGetVersion"),
                cuDeviceGetCount = (delegate* unmanaged<int*, int>)E("cuDeviceGetCount"),
                cuDeviceGet = (delegate* unmanaged<int*, int, int>)E("cuDeviceGet"),
                cuDeviceGetName = (delegate* unmanaged<byte*, int, int, int>)E("cuDeviceGetName"),
                cuDeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)E("cuDeviceGetAttribute"),
                cuDeviceTotalMem = (delegate* unmanaged<nuint*, int, int>)E("cuDeviceTotalMem_v2"),
                cuDevicePrimaryCtxRetain = (delegate* unmanaged<nint*, int, int>)E("cuDevicePrimaryCtxRetain"),
                cuDevicePrimaryCtxRelease = (delegate* unmanaged<int, int>)E("cuDevicePrimaryCtxRelease_v2"),
                cuCtxSetCurrent = (delegate* unmanaged<nint, int>)E("cuCtxSetCurrent"),
                cuMemGetInfo = (delegate* unmanaged<nuint*, nuint*, int>)E("cuMemGetInfo_v2"),
                cuMemAlloc = (delegate* unmanaged<ulong*, nuint, int>)E("cuMemAlloc_v2"),
                cuMemFree = (delegate* unmanaged<ulong, int>)E("cuMemFree_v2"),
                cuMemAllocHost = (delegate* unmanaged<void**, nuint, int>)E("cuMemAllocHost_v2"),
                cuMemHostGetDevicePointer = (delegate* unmanaged<ulong*, void*, uint, int>)E("cuMemHostGetDevicePointer_v2"),
                cuMemFreeHost = (delegate* unmanaged<void*, int>)E("cuMemFreeHost"),
                cuMemcpyHtoD = (delegate* unmanaged<ulong, void*, nuint, int>)E("cuMemcpyHtoD_v2"),
                cuMemcpyDtoH = (delegate* unmanaged<void*, ulong, nuint, int>)E("cuMemcpyDtoH_v2"),
                cuMemcpyHtoDAsync = (delegate* unmanaged<ulong, void*, nuint, nint, int>)E("cuMemcpyHtoDAsync_v2"),
                cuMemcpyDtoHAsync = (delegate* unmanaged<void*, ulong, nuint, nint, int>)E("cuMemcpyDtoHAsync_v2"),
                cuMemcpyDtoDAsync = (delegate* unmanaged<ulong, ulong, nuint, nint, int>)E("cuMemcpyDtoDAsync_v2"),
                cuMemsetD8Async = (delegate* unmanaged<ulong, byte, nuint, nint, int>)E("cuMemsetD8Async"),
                cuStreamCreate = (delegate* unmanaged<nint*, uint, int>)E("cuStreamCreate"),
                cuStreamDestroy = (delegate* unmanaged<nint, int>)E("cuStreamDestroy_v2"),
                cuStreamSynchronize = (delegate* unmanaged<nint, int>)E("cuStreamSynchronize"),
                cuEventCreate = (delegate* unmanaged<nint*, uint, int>)E("cuEventCreate"),
                cuEventDestroy = (delegate* unmanaged<nint, int>)E("cuEventDestroy_v2"),
                cuEventRecord = (delegate* unmanaged<nint, nint, int>)E("cuEventRecord"),
                cuEventSynchronize = (delegate* unmanaged<nint, int>)E("cuEventSynchronize"),
                cuEventQuery = (delegate* unmanaged<nint, int>)E("cuEventQuery"),
                cuEventElapsedTime = (delegate* unmanaged<float*, nint, nint, int>)E("cuEventElapsedTime"),
                cuStreamWaitEvent = (delegate* unmanaged<nint, nint, uint, int>)E("cuStreamWaitEvent"),
                cuModuleLoadData = (delegate* unmanaged<nint*, void*, int>)E("cuModuleLoadData"),
                cuModuleUnload = (delegate* unmanaged<nint, int>)E("cuModuleUnload"),
                cuModuleGetFunction = (delegate* unmanaged<nint*, nint, byte*, int>)E("cuModuleGetFunction"),
                cuFuncSetAttribute = (delegate* unmanaged<nint, int, int, int>)E("cuFuncSetAttribute"),
                cuLaunchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)E("cuLaunchKernel"),
                cuLaunchKernelEx = (delegate* unmanaged<LaunchConfig*, nint, void**, void**, int>)(NativeLibrary.TryGetExport(lib, "cuLaunchKernelEx", out var ex) ? ex : 0),
                cuStreamBeginCapture = (delegate* unmanaged<nint, int, int>)E("cuStreamBeginCapture_v2"),
                cuStreamEndCapture = (delegate* unmanaged<nint, nint*, int>)E("cuStreamEndCapture"),
                cuGraphInstantiateWithFlags = (delegate* unmanaged<nint*, nint, ulong, int>)E("cuGraphInstantiateWithFlags"),
                cuGraphLaunch = (delegate* unmanaged<nint, nint, int>)E("cuGraphLaunch"),
                cuGraphExecDestroy = (delegate* unmanaged<nint, int>)E("cuGraphExecDestroy"),
                cuGraphDestroy = (delegate* unmanaged<nint, int>)E("cuGraphDestroy"),
            };
            int r = a.cuInit(0);
            if (r != 0)
            {
                byte* p = null;
                string name = a.cuGetErrorName(r, &p) == 0 && p != null ? Marshal.PtrToStringAnsi((nint)p) ?? "" : $"CUresult {r}";
                throw new CudaException("cuInit", r, name, "no usable NVIDIA GPU/driver");
            }
            return a;
        }
    }
}
