using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// One cached cuBLASLt GEMM configuration: the operation and matrix-layout descriptors for Yᵀ[n, m] = W[k, n]ᵀ · Xᵀ[k, m]
/// (the column-major view of Y = X · Wᵀ), and the algorithm chosen for the bucket. Rows other than the bucket's top
/// reuse the same algorithm after <c>cublasLtMatmulAlgoCheck</c> accepts it once for that M; if it does not, an
/// exact-M heuristic choice (or plain cublasGemmEx) is remembered for that M.
/// </summary>
internal sealed unsafe class GemmPlan : IDisposable
{
    /// <summary>Index into the algorithm list meaning "use cublasGemmEx".</summary>
    public const int GemmExFallback = -1;

    private readonly List<CublasLtAlgo> _algos = [];
    private readonly Dictionary<int, int> _algoForRows = [];
    private nint _desc, _a, _b, _d;
    private int _rows;

    /// <param name="key">The shape bucket, operand and output types.</param>
    /// <param name="fp8FastAccumulation">For FP8 keys: cuBLASLt's fast-accumulation mode (<see cref="RuntimeSwitches.Fp8FastAccumulation"/>).</param>
    public GemmPlan(GemmKey key, bool fp8FastAccumulation = false)
    {
        Key = key;
        var lt = CublasLtNative.Instance;
        try
        {
            nint desc, a, b, d;
            lt.Check(lt.cublasLtMatmulDescCreate(&desc, CublasNative.CUBLAS_COMPUTE_32F, CublasNative.CUDA_R_32F), "cublasLtMatmulDescCreate");
            _desc = desc;
            int opT = CublasNative.CUBLAS_OP_T, opN = CublasNative.CUBLAS_OP_N;
            lt.Check(lt.cublasLtMatmulDescSetAttribute(desc, CublasLtNative.MATMUL_DESC_TRANSA, &opT, sizeof(int)), "cublasLtMatmulDescSetAttribute", "TRANSA");
            lt.Check(lt.cublasLtMatmulDescSetAttribute(desc, CublasLtNative.MATMUL_DESC_TRANSB, &opN, sizeof(int)), "cublasLtMatmulDescSetAttribute", "TRANSB");
            int operand = key.Fp8 ? CublasLtNative.CUDA_R_8F_E4M3 : CublasNative.CUDA_R_16BF;
            if (key.Fp8)
            {
                // W8A8: one fp32 scale per weight row (op(A) = W's rows) and one per token (op(B) = Xᵀ's columns); the
                // pointers are set per call (SetScales), since every layer has its own.
                int mode = CublasLtNative.MATRIX_SCALE_OUTER_VEC_32F;
                lt.Check(lt.cublasLtMatmulDescSetAttribute(desc, CublasLtNative.MATMUL_DESC_A_SCALE_MODE, &mode, sizeof(int)), "cublasLtMatmulDescSetAttribute", "A_SCALE_MODE");
                lt.Check(lt.cublasLtMatmulDescSetAttribute(desc, CublasLtNative.MATMUL_DESC_B_SCALE_MODE, &mode, sizeof(int)), "cublasLtMatmulDescSetAttribute", "B_SCALE_MODE");
                sbyte fast = fp8FastAccumulation ? (sbyte)1 : (sbyte)0;
                lt.Check(lt.cublasLtMatmulDescSetAttribute(desc, CublasLtNative.MATMUL_DESC_FAST_ACCUM, &fast, sizeof(sbyte)), "cublasLtMatmulDescSetAttribute", "FAST_ACCUM");
            }
            lt.Check(lt.cublasLtMatrixLayoutCreate(&a, operand, (ulong)key.K, (ulong)key.N, key.K), "cublasLtMatrixLayoutCreate", "W");
            _a = a;
            lt.Check(lt.cublasLtMatrixLayoutCreate(&b, operand, (ulong)key.K, (ulong)key.Bucket, key.K), "cublasLtMatrixLayoutCreate", "X");
            _b = b;
            int outType = key.OutputF32 ? CublasNative.CUDA_R_32F : CublasNative.CUDA_R_16BF;
            lt.Check(lt.cublasLtMatrixLayoutCreate(&d, outType, (ulong)key.N, (ulong)key.Bucket, key.N), "cublasLtMatrixLayoutCreate", "Y");
            _d = d;
            _rows = key.Bucket;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public GemmKey Key { get; }

    /// <summary>The algorithm chosen for the bucket (index 0 of the list), or <see cref="GemmExFallback"/>.</summary>
    public int BucketChoice { get; private set; } = GemmExFallback;

    /// <summary>How the bucket's algorithm was chosen, for logs: "heuristic", "timed 3/8 …" or "cublasGemmEx".</summary>
    public string How { get; private set; } = "cublasGemmEx";

    public nint Desc => _desc;
    public nint A => _a;
    public nint B => _b;
    public nint D => _d;

    /// <summary>Sets an FP8 plan's scale vectors: <paramref name="weightScales"/> [N] and <paramref name="tokenScales"/> [M] (device fp32).</summary>
    public void SetScales(ulong weightScales, ulong tokenScales)
    {
        var lt = CublasLtNative.Instance;
        lt.Check(lt.cublasLtMatmulDescSetAttribute(_desc, CublasLtNative.MATMUL_DESC_A_SCALE_POINTER, &weightScales, sizeof(ulong)), "cublasLtMatmulDescSetAttribute", "A_SCALE_POINTER");
        lt.Check(lt.cublasLtMatmulDescSetAttribute(_desc, CublasLtNative.MATMUL_DESC_B_SCALE_POINTER, &tokenScales, sizeof(ulong)), "cublasLtMatmulDescSetAttribute", "B_SCALE_POINTER");
    }

    /// <summary>Points the X and Y layouts at <paramref name="m"/> rows (host-side descriptor change only).</summary>
    public void SetRows(int m)
    {
        if (m == _rows) return;
        var lt = CublasLtNative.Instance;
        ulong cols = (ulong)m;
        lt.Check(lt.cublasLtMatrixLayoutSetAttribute(_b, CublasLtNative.MATRIX_LAYOUT_COLS, &cols, sizeof(ulong)), "cublasLtMatrixLayoutSetAttribute", "X cols");
        lt.Check(lt.cublasLtMatrixLayoutSetAttribute(_d, CublasLtNative.MATRIX_LAYOUT_COLS, &cols, sizeof(ulong)), "cublasLtMatrixLayoutSetAttribute", "Y cols");
        _rows = m;
    }

    /// <summary>Up to <paramref name="count"/> heuristic candidates for the current rows, best first (none when unsupported).</summary>
    public CublasLtHeuristicResult[] Candidates(nint handle, nint preference, int count)
    {
        var lt = CublasLtNative.Instance;
        var results = new CublasLtHeuristicResult[count];
        int returned = 0;
        int status;
        fixed (CublasLtHeuristicResult* r = results)
            status = lt.cublasLtMatmulAlgoGetHeuristic(handle, _desc, _a, _b, _d, _d, preference, count, r, &returned);
        if (status == CublasLtNative.STATUS_NOT_SUPPORTED || status == CublasLtNative.STATUS_INVALID_VALUE) return [];
        lt.Check(status, "cublasLtMatmulAlgoGetHeuristic", Key.ToString());
        return [.. results.AsSpan(0, returned).ToArray().Where(c => c.State == 0 && (long)c.WorkspaceSize <= CudaBlas.WorkspaceBytes)];
    }

    /// <summary>Sets the bucket's algorithm.</summary>
    public void ChooseForBucket(CublasLtAlgo? algo, string how)
    {
        _algos.Clear();
        _algoForRows.Clear();
        if (algo is { } a) { _algos.Add(a); BucketChoice = 0; }
        else BucketChoice = GemmExFallback;
        How = algo is null ? "cublasGemmEx" : how;
    }

    /// <summary>
    /// The algorithm index for <paramref name="m"/> rows (after <see cref="SetRows"/>): the bucket's once checked for this
    /// M, else an exact-M heuristic choice, else <see cref="GemmExFallback"/>. Remembered per M.
    /// </summary>
    public int AlgorithmFor(int m, nint handle, nint preference)
    {
        if (_algoForRows.TryGetValue(m, out int index)) return index;
        index = GemmExFallback;
        if (BucketChoice != GemmExFallback)
        {
            var lt = CublasLtNative.Instance;
            var algo = _algos[BucketChoice];
            CublasLtHeuristicResult check;
            int status = lt.cublasLtMatmulAlgoCheck(handle, _desc, _a, _b, _d, _d, &algo, &check);
            if (status == 0 && check.State == 0 && (long)check.WorkspaceSize <= CudaBlas.WorkspaceBytes) index = BucketChoice;
            else if (Candidates(handle, preference, 1) is [var exact])
            {
                _algos.Add(exact.Algo);
                index = _algos.Count - 1;
            }
        }
        _algoForRows[m] = index;
        return index;
    }

    /// <summary>The algorithm at <paramref name="index"/> (not <see cref="GemmExFallback"/>).</summary>
    public CublasLtAlgo Algorithm(int index) => _algos[index];

    public void Dispose()
    {
        var lt = CublasLtNative.Instance;
        if (_d != 0) lt.cublasLtMatrixLayoutDestroy(_d);
        if (_b != 0) lt.cublasLtMatrixLayoutDestroy(_b);
        if (_a != 0) lt.cublasLtMatrixLayoutDestroy(_a);
        if (_desc != 0) lt.cublasLtMatmulDescDestroy(_desc);
        _d = _b = _a = _desc = 0;
    }
}
