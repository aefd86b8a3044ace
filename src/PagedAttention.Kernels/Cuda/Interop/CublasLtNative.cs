using System.Runtime.InteropServices;

namespace PagedAttention.Kernels.Cuda.Interop;

/// <summary>
/// cublasLtMatmulAlgo_t: 64 opaque bytes that name an algorithm (kernel, tile, stages, split-K, swizzle) for a shape.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 64)]
internal unsafe struct CublasLtAlgo
{
    public fixed ulong Data[8];
}

/// <summary>cublasLtMatmulHeuristicResult_t (cublasLt.h, 64-bit): 96 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CublasLtHeuristicResult
{
    public CublasLtAlgo Algo;
    public nuint WorkspaceSize;
    public int State;
    public float WavesCount;
    public fixed int Reserved[4];
}

/// <summary>cuBLASLt (libcublasLt.so.13 / .12), resolved at run time.</summary>
internal sealed unsafe class CublasLtNative
{
    private static readonly Lazy<CublasLtNative> s_instance = new(() => new CublasLtNative(), LazyThreadSafetyMode.ExecutionAndPublication);

    public static readonly string[] Names = ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11", "libcublasLt.so"];

    public static CublasLtNative Instance => s_instance.Value;

    /// <summary>cublasLtMatmulDescAttributes_t.</summary>
    public const int MATMUL_DESC_TRANSA = 3, MATMUL_DESC_TRANSB = 4;
    /// <summary>
    /// cublasLtMatmulDescAttributes_t for FP8: the A/B scale pointers and their modes, with cublasLtMatmulMatrixScale_t's
    /// OUTER_VEC_32F (one fp32 per row of op(A) / column of op(B); cuBLASLt 12.9+). bench/GpuCheck/cublaslt_fp8_probe.c
    /// prints the header's values on the GPU machine.
    /// </summary>
    public const int MATMUL_DESC_A_SCALE_POINTER = 17, MATMUL_DESC_B_SCALE_POINTER = 18, MATMUL_DESC_A_SCALE_MODE = 31, MATMUL_DESC_B_SCALE_MODE = 32;

    /// <summary>cublasLtMatmulDescAttributes_t: CUBLASLT_MATMUL_DESC_FAST_ACCUM (int8_t, FP8 only).</summary>
    public const int MATMUL_DESC_FAST_ACCUM = 25;
    /// <summary>cublasLtMatmulMatrixScale_t: a vector of fp32 scales along the outer (non-reduced) dimension.</summary>
    public const int MATRIX_SCALE_OUTER_VEC_32F = 3;
    /// <summary>cudaDataType_t of FP8 E4M3 operands.</summary>
    public const int CUDA_R_8F_E4M3 = 28;
    /// <summary>The first cuBLASLt version (cublasLtGetVersion) with outer-vector FP8 scales: 12.9.0.</summary>
    public const long OuterVectorScalesVersion = 120900;
    /// <summary>cublasLtMatrixLayoutAttribute_t: number of columns (uint64).</summary>
    public const int MATRIX_LAYOUT_COLS = 3;
    /// <summary>cublasLtMatmulPreferenceAttributes_t: largest workspace an algorithm may ask for (uint64).</summary>
    public const int MATMUL_PREF_MAX_WORKSPACE_BYTES = 1;
    /// <summary>cublasStatus_t values the GEMM path reacts to.</summary>
    public const int STATUS_SUCCESS = 0, STATUS_INVALID_VALUE = 7, STATUS_NOT_SUPPORTED = 15;

#pragma warning disable IDE1006
    public readonly delegate* unmanaged<nint*, int> cublasLtCreate;
    public readonly delegate* unmanaged<nint, int> cublasLtDestroy;
    public readonly delegate* unmanaged<nint*, int, int, int> cublasLtMatmulDescCreate;
    public readonly delegate* unmanaged<nint, int> cublasLtMatmulDescDestroy;
    public readonly delegate* unmanaged<nint, int, void*, nuint, int> cublasLtMatmulDescSetAttribute;
    public readonly delegate* unmanaged<nint*, int, ulong, ulong, long, int> cublasLtMatrixLayoutCreate;
    public readonly delegate* unmanaged<nint, int> cublasLtMatrixLayoutDestroy;
    public readonly delegate* unmanaged<nint, int, void*, nuint, int> cublasLtMatrixLayoutSetAttribute;
    public readonly delegate* unmanaged<nint*, int> cublasLtMatmulPreferenceCreate;
    public readonly delegate* unmanaged<nint, int> cublasLtMatmulPreferenceDestroy;
    public readonly delegate* unmanaged<nint, int, void*, nuint, int> cublasLtMatmulPreferenceSetAttribute;
    public readonly delegate* unmanaged<nint, nint, nint, nint, nint, nint, nint, int, CublasLtHeuristicResult*, int*, int> cublasLtMatmulAlgoGetHeuristic;
    public readonly delegate* unmanaged<nint, nint, nint, nint, nint, nint, CublasLtAlgo*, CublasLtHeuristicResult*, int> cublasLtMatmulAlgoCheck;
    public readonly delegate* unmanaged<nint, nint, void*, ulong, nint, ulong, nint, void*, ulong, nint, ulong, nint, CublasLtAlgo*, ulong, nuint, nint, int> cublasLtMatmul;
    private readonly delegate* unmanaged<int, byte*> _getStatusName;
#pragma warning restore IDE1006

    private CublasLtNative()
    {
        nint lib = NativeLoader.Load("cuBLASLt", Names);
        nint E(string s) => NativeLoader.Export(lib, "libcublasLt", s);
        cublasLtCreate = (delegate* unmanaged<nint*, int>)E("cublasLtCreate");
        cublasLtDestroy = (delegate* unmanaged<nint, int>)E("cublasLtDestroy");
        cublasLtMatmulDescCreate = (delegate* unmanaged<nint*, int, int, int>)E("cublasLtMatmulDescCreate");
        cublasLtMatmulDescDestroy = (delegate* unmanaged<nint, int>)E("cublasLtMatmulDescDestroy");
        cublasLtMatmulDescSetAttribute = (delegate* unmanaged<nint, int, void*, nuint, int>)E("cublasLtMatmulDescSetAttribute");
        cublasLtMatrixLayoutCreate = (delegate* unmanaged<nint*, int, ulong, ulong, long, int>)E("cublasLtMatrixLayoutCreate");
        cublasLtMatrixLayoutDestroy = (delegate* unmanaged<nint, int>)E("cublasLtMatrixLayoutDestroy");
        cublasLtMatrixLayoutSetAttribute = (delegate* unmanaged<nint, int, void*, nuint, int>)E("cublasLtMatrixLayoutSetAttribute");
        cublasLtMatmulPreferenceCreate = (delegate* unmanaged<nint*, int>)E("cublasLtMatmulPreferenceCreate");
        cublasLtMatmulPreferenceDestroy = (delegate* unmanaged<nint, int>)E("cublasLtMatmulPreferenceDestroy");
        cublasLtMatmulPreferenceSetAttribute = (delegate* unmanaged<nint, int, void*, nuint, int>)E("cublasLtMatmulPreferenceSetAttribute");
        cublasLtMatmulAlgoGetHeuristic = (delegate* unmanaged<nint, nint, nint, nint, nint, nint, nint, int, CublasLtHeuristicResult*, int*, int>)E("cublasLtMatmulAlgoGetHeuristic");
        cublasLtMatmulAlgoCheck = (delegate* unmanaged<nint, nint, nint, nint, nint, nint, CublasLtAlgo*, CublasLtHeuristicResult*, int>)E("cublasLtMatmulAlgoCheck");
        cublasLtMatmul = (delegate* unmanaged<nint, nint, void*, ulong, nint, ulong, nint, void*, ulong, nint, ulong, nint, CublasLtAlgo*, ulong, nuint, nint, int>)E("cublasLtMatmul");
        if (NativeLibrary.TryGetExport(lib, "cublasLtGetStatusName", out var p)) _getStatusName = (delegate* unmanaged<int, byte*>)p;
        Version = NativeLibrary.TryGetExport(lib, "cublasLtGetVersion", out var v) ? (long)((delegate* unmanaged<nuint>)v)() : 0;
    }

    /// <summary>cublasLtGetVersion(): major × 10,000 + minor × 100 + patch (e.g. 130100), 0 if not exported.</summary>
    public long Version { get; }

    public void Check(int status, string call, string? detail = null)
    {
        if (status == 0) return;
        string name = _getStatusName != null ? Marshal.PtrToStringAnsi((nint)_getStatusName(status)) ?? "" : "";
        throw new CudaException(call, status, name.Length > 0 ? name : $"cublasStatus {status}", detail);
    }
}
