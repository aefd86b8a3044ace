using System.Runtime.InteropServices;

namespace PagedAttention.Kernels.Cuda.Interop;

/// <summary>NVRTC (libnvrtc.so.13 / .12 / .11.2), resolved at run time. Needs no GPU.</summary>
internal sealed unsafe class NvrtcNative
{
    private static readonly Lazy<NvrtcNative> s_instance = new(() => new NvrtcNative(), LazyThreadSafetyMode.ExecutionAndPublication);

    public static readonly string[] Names = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"];

    public static NvrtcNative Instance => s_instance.Value;

#pragma warning disable IDE1006
    public readonly delegate* unmanaged<int*, int*, int> nvrtcVersion;
    public readonly delegate* unmanaged<int, byte*> nvrtcGetErrorString;
    public readonly delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int> nvrtcCreateProgram;
    public readonly delegate* unmanaged<nint*, int> nvrtcDestroyProgram;
    public readonly delegate* unmanaged<nint, int, byte**, int> nvrtcCompileProgram;
    public readonly delegate* unmanaged<nint, nuint*, int> nvrtcGetProgramLogSize;
    public readonly delegate* unmanaged<nint, byte*, int> nvrtcGetProgramLog;
    public readonly delegate* unmanaged<nint, nuint*, int> nvrtcGetPTXSize;
    public readonly delegate* unmanaged<nint, byte*, int> nvrtcGetPTX;
    public readonly delegate* unmanaged<nint, nuint*, int> nvrtcGetCUBINSize;
    public readonly delegate* unmanaged<nint, byte*, int> nvrtcGetCUBIN;
#pragma warning restore IDE1006

    private NvrtcNative()
    {
        nint lib = NativeLoader.Load("NVRTC", Names);
        nint E(string s) => NativeLoader.Export(lib, "libnvrtc", s);
        nvrtcVersion = (delegate* unmanaged<int*, int*, int>)E("nvrtcVersion");
        nvrtcGetErrorString = (delegate* unmanaged<int, byte*>)E("nvrtcGetErrorString");
        nvrtcCreateProgram = (delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int>)E("nvrtcCreateProgram");
        nvrtcDestroyProgram = (delegate* unmanaged<nint*, int>)E("nvrtcDestroyProgram");
        nvrtcCompileProgram = (delegate* unmanaged<nint, int, byte**, int>)E("nvrtcCompileProgram");
        nvrtcGetProgramLogSize = (delegate* unmanaged<nint, nuint*, int>)E("nvrtcGetProgramLogSize");
        nvrtcGetProgramLog = (delegate* unmanaged<nint, byte*, int>)E("nvrtcGetProgramLog");
        nvrtcGetPTXSize = (delegate* unmanaged<nint, nuint*, int>)E("nvrtcGetPTXSize");
        nvrtcGetPTX = (delegate* unmanaged<nint, byte*, int>)E("nvrtcGetPTX");
        nvrtcGetCUBINSize = (delegate* unmanaged<nint, nuint*, int>)E("nvrtcGetCUBINSize");
        nvrtcGetCUBIN = (delegate* unmanaged<nint, byte*, int>)E("nvrtcGetCUBIN");
    }

    public void Check(int result, string call, string? detail = null)
    {
        if (result == 0) return;
        string name = Marshal.PtrToStringAnsi((nint)nvrtcGetErrorString(result)) ?? $"nvrtcResult {result}";
        throw new CudaException(call, result, name, detail);
    }
}
