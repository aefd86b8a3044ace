using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// bf16 GEMMs through cuBLAS with fp32 accumulation, in the row-major convention of PyTorch's <c>Linear</c>:
/// <c>Y[m, n] = X[m, k] · W[n, k]ᵀ (+ beta · Y)</c>. One handle, bound to the device's stream, with its own 32 MiB
/// workspace so that calls can be captured into CUDA graphs.
/// </summary>
public sealed unsafe class CudaBlas : IDisposable
{
    private const long WorkspaceBytes = 32L << 20;
    private readonly CudaDevice _device;
    private readonly DeviceBuffer _workspace;
    private nint _handle;

    internal CudaBlas(CudaDevice device)
    {
        _device = device;
        var b = CublasNative.Instance;
        nint h;
        b.Check(b.cublasCreate(&h), "cublasCreate");
        _handle = h;
        b.Check(b.cublasSetStream(h, device.Stream), "cublasSetStream");
        _workspace = device.Allocate(WorkspaceBytes);
        b.Check(b.cublasSetWorkspace(h, _workspace.Ptr, (nuint)WorkspaceBytes), "cublasSetWorkspace");
    }

    /// <summary>
    /// Y = X · Wᵀ + beta · Y with X [m, k] bf16, W [n, k] bf16 (row-major) and Y [m, n] in fp32
    /// (<paramref name="outputF32"/>) or bf16. All pointers are device addresses.
    /// </summary>
    public void Gemm(ulong x, ulong w, ulong y, int m, int n, int k, bool outputF32 = true, float beta = 0f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(m);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (x == 0 || w == 0 || y == 0) throw new ArgumentException("GEMM operands must be device addresses.");
        ObjectDisposedException.ThrowIf(_handle == 0, this);
        var b = CublasNative.Instance;
        float alpha = 1f;
        // Column-major view: Yᵀ[n, m] = W[k, n]ᵀ · Xᵀ[k, m], i.e. op(A) = T on W and op(B) = N on X.
        b.Check(b.cublasGemmEx(_handle, CublasNative.CUBLAS_OP_T, CublasNative.CUBLAS_OP_N, n, m, k,
            &alpha, w, CublasNative.CUDA_R_16BF, k, x, CublasNative.CUDA_R_16BF, k,
            &beta, y, outputF32 ? CublasNative.CUDA_R_32F : CublasNative.CUDA_R_16BF, n,
            CublasNative.CUBLAS_COMPUTE_32F, CublasNative.CUBLAS_GEMM_DEFAULT),
            "cublasGemmEx", $"m={m} n={n} k={k}");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_handle == 0) return;
        CublasNative.Instance.cublasDestroy(_handle);
        _handle = 0;
        _workspace.Dispose();
    }
}
