using System.Runtime.InteropServices;

namespace PagedAttention.Kernels.Cuda.Interop;

/// <summary>cuBLAS (libcublas.so.13 / .12), resolved at run time.</summary>
internal sealed unsafe class CublasNative
{
    private static readonly Lazy<CublasNative> s_instance = new(() => new CublasNative(), LazyThreadSafetyMode.ExecutionAndPublication);

    public static readonly string[] Names = ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"];

    public static CublasNative Instance => s_instance.Value;

    /// <summary>cudaDataType values.</summary>
    public const int CUDA_R_32F = 0, CUDA_R_16BF = 14;
    /// <summary>cublasComputeType_t: fp32 accumulation.</summary>
    public const int CUBLAS_COMPUTE_32F = 68;
    /// <summary>cublasOperation_t.</summary>
    public const int CUBLAS_OP_N = 0, CUBLAS_OP_T = 1;
    /// <summary>cublasGemmAlgo_t: let cuBLAS choose.</summary>
    public const int CUBLAS_GEMM_DEFAULT = -1;

#pragma warning disable IDE1006
    public readonly delegate* unmanaged<nint*, int> cublasCreate;
    public readonly delegate* unmanaged<nint, int> cublasDestroy;
    public readonly delegate* unmanaged<nint, nint, int> cublasSetStream;
    public readonly delegate* unmanaged<nint, ulong, nuint, int> cublasSetWorkspace;
    public readonly delegate* unmanaged<nint, int, int, int, int, int, void*, ulong, int, int, ulong, int, int, void*, ulong, int, int, int, int, int> cublasGemmEx;
    private readonly delegate* unmanaged<int, byte*> _getStatusName;
#pragma warning restore IDE1006

    private CublasNative()
    {
        nint lib = NativeLoader.Load("cuBLAS", Names);
        nint E(string s) => NativeLoader.Export(lib, "libcublas", s);
        cublasCreate = (delegate* unmanaged<nint*, int>)E("cublasCreate_v2");
        cublasDestroy = (delegate* unmanaged<nint, int>)E("cublasDestroy_v2");
        cublasSetStream = (delegate* unmanaged<nint, nint, int>)E("cublasSetStream_v2");
        cublasSetWorkspace = (delegate* unmanaged<nint, ulong, nuint, int>)E("cublasSetWorkspace_v2");
        cublasGemmEx = (delegate* unmanaged<nint, int, int, int, int, int, void*, ulong, int, int, ulong, int, int, void*, ulong, int, int, int, int, int>)E("cublasGemmEx");
        if (NativeLibrary.TryGetExport(lib, "cublasGetStatusName", out var p)) _getStatusName = (delegate* unmanaged<int, byte*>)p;
    }

    public void Check(int status, string call, string? detail = null)
    {
        if (status == 0) return;
        string name = _getStatusName != null ? Marshal.PtrToStringAnsi((nint)_getStatusName(status)) ?? "" : "";
        throw new CudaException(call, status, name.Length > 0 ? name : $"cublasStatus {status}", detail);
    }
}
