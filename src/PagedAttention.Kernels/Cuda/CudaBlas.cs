using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// bf16 GEMMs with fp32 accumulation, in the row-major convention of PyTorch's <c>Linear</c>:
/// <c>Y[m, n] = X[m, k] · W[n, k]ᵀ (+ beta · Y)</c>, through cuBLASLt with the algorithm chosen once per shape bucket
/// (<see cref="GemmBucket"/>: M rounded up to a power of two, × N × K × output type) and cached. One 32 MiB workspace,
/// allocated before any capture, serves every call, so GEMMs can be captured into CUDA graphs.
/// </summary>
/// <remarks>
/// By default the bucket's algorithm is cuBLASLt's first heuristic choice for the bucket's largest M: a pure function of
/// the shape, so every process rounds the same way. <see cref="TimedAlgorithmSearch"/> instead times the heuristic's top
/// candidates once per bucket and keeps the fastest (faster where the heuristic misjudges, but two processes may then
/// pick different algorithms and differ in the last bits). <see cref="UseLt"/> = false goes back to plain
/// <c>cublasGemmEx</c>.
/// </remarks>
internal unsafe class CudaBlas : IDisposable
{
    internal const long WorkspaceBytes = 32L << 20;
    private const int SearchCandidates = 8;
    private readonly CudaDevice _device;
    private readonly DeviceBuffer _workspace;
    private readonly Dictionary<GemmKey, GemmPlan> _plans = [];
    private nint _handle, _lt, _preference;
    private bool _useLt, _timed, _fp8FastAccumulation;

    internal CudaBlas(CudaDevice device, RuntimeSwitches switches)
    {
        _device = device;
        var b = CublasNative.Instance;
        nint h;
        b.Check(b.cublasCreate(&h), "cublasCreate");
        _handle = h;
        try
        {
            b.Check(b.cublasSetStream(h, device.Stream), "cublasSetStream");
            _workspace = device.Allocate(WorkspaceBytes);
            b.Check(b.cublasSetWorkspace(h, _workspace.Ptr, (nuint)WorkspaceBytes), "cublasSetWorkspace");
            var lt = CublasLtNative.Instance;
            nint l, p;
            lt.Check(lt.cublasLtCreate(&l), "cublasLtCreate");
            _lt = l;
            lt.Check(lt.cublasLtMatmulPreferenceCreate(&p), "cublasLtMatmulPreferenceCreate");
            _preference = p;
            ulong ws = WorkspaceBytes;
            lt.Check(lt.cublasLtMatmulPreferenceSetAttribute(p, CublasLtNative.MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ulong)), "cublasLtMatmulPreferenceSetAttribute");
        }
        catch
        {
            Dispose();
            throw;
        }
        _useLt = switches.CublasLt;
        _timed = switches.GemmSearch;
        _fp8FastAccumulation = switches.Fp8FastAccumulation;
    }

    /// <summary>
    /// Whether GEMMs go through cuBLASLt with cached per-bucket algorithms (default;
    /// <see cref="RuntimeSwitches.CublasLt"/>, PAGEDATTENTION_CUBLASLT=0, turns it off) or through <c>cublasGemmEx</c>, which lets cuBLAS choose per exact shape.
    /// Graphs captured before a change keep the GEMMs they captured.
    /// </summary>
    public bool UseLt
    {
        get => _useLt;
        set => _useLt = value;
    }

    /// <summary>
    /// Whether a bucket's algorithm is the fastest of cuBLASLt's top heuristic candidates, timed once on the first call's
    /// operands (opt-in: <see cref="RuntimeSwitches.GemmSearch"/>, PAGEDATTENTION_GEMM_SEARCH=1), instead of the first candidate. Changing it forgets the cached
    /// choices.
    /// </summary>
    public bool TimedAlgorithmSearch
    {
        get => _timed;
        set
        {
            if (value == _timed) return;
            _timed = value;
            ClearPlans();
        }
    }

    /// <summary>
    /// Whether FP8 GEMMs run in cuBLASLt's fast-accumulation mode (<see cref="RuntimeSwitches.Fp8FastAccumulation"/>,
    /// PAGEDATTENTION_FP8_FAST_ACCUM=1; default off). Changing it forgets the cached plans.
    /// </summary>
    public bool Fp8FastAccumulation
    {
        get => _fp8FastAccumulation;
        set
        {
            if (value == _fp8FastAccumulation) return;
            _fp8FastAccumulation = value;
            ClearPlans();
        }
    }

    /// <summary>Number of cached (bucket, N, K, output type) plans.</summary>
    public int NumPlans => _plans.Count;

    /// <summary>One line per cached plan: the bucket, shape, output type and how its algorithm was chosen.</summary>
    public IReadOnlyList<string> DescribePlans() =>
        [.. _plans.Values.OrderBy(p => (p.Key.N, p.Key.K, p.Key.Bucket)).Select(p =>
            $"m<={p.Key.Bucket} n={p.Key.N} k={p.Key.K} {(p.Key.Fp8 ? "fp8 " : "")}out={(p.Key.OutputF32 ? "f32" : "bf16")}: {p.How}")];

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
        if (!_useLt) { GemmEx(x, w, y, m, n, k, outputF32, beta); return; }
        var plan = Plan(new GemmKey(GemmBucket.Of(m), n, k, outputF32), x, w, y, m, beta);
        plan.SetRows(m);
        int index = plan.AlgorithmFor(m, _lt, _preference);
        if (index == GemmPlan.GemmExFallback) { GemmEx(x, w, y, m, n, k, outputF32, beta); return; }
        Matmul(plan, plan.Algorithm(index), x, w, y, beta);
    }

    /// <summary>
    /// Whether <see cref="GemmFp8"/> can run here: FP8 tensor cores (sm_89+) and a cuBLASLt with outer-vector scales
    /// (12.9+); otherwise the reason.
    /// </summary>
    public string? Fp8Unsupported()
    {
        var (major, minor) = _device.ComputeCapability;
        if (major * 10 + minor < 89) return $"{_device.Name} is sm_{major}{minor}; FP8 tensor cores need sm_89 or later (Ada, Hopper, Blackwell)";
        long v = CublasLtNative.Instance.Version;
        if (v < CublasLtNative.OuterVectorScalesVersion) return $"cuBLASLt {v / 10000}.{v / 100 % 100} has no per-row FP8 scales (12.9 or later needed)";
        return null;
    }

    /// <summary>
    /// W8A8: Y[m, n] = xScales[m] · wScales[n] · Σ_k X[m, k] · W[n, k] with X [m, k] and W [n, k] FP8 E4M3 codes
    /// (row-major), fp32 accumulation, Y fp32 (<paramref name="outputF32"/>) or bf16. Always through cuBLASLt (plans
    /// cached per bucket as for <see cref="Gemm"/>); k must be a multiple of 16 (FP8 tensor-core rows).
    /// </summary>
    /// <exception cref="CudaException">cuBLASLt has no FP8 algorithm for the shape.</exception>
    public void GemmFp8(ulong x, ulong xScales, ulong w, ulong wScales, ulong y, int m, int n, int k, bool outputF32 = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(m);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (k % 16 != 0) throw new ArgumentException($"FP8 GEMMs need k to be a multiple of 16, got {k}.", nameof(k));
        if (x == 0 || w == 0 || y == 0 || xScales == 0 || wScales == 0) throw new ArgumentException("GEMM operands must be device addresses.");
        ObjectDisposedException.ThrowIf(_handle == 0, this);
        var key = new GemmKey(GemmBucket.Of(m), n, k, outputF32, Fp8: true);
        var plan = Plan(key, x, w, y, m, 0f, wScales, xScales);
        plan.SetScales(wScales, xScales); // this layer's (a cached plan still points at the last caller's)
        plan.SetRows(m);
        int index = plan.AlgorithmFor(m, _lt, _preference);
        if (index == GemmPlan.GemmExFallback)
            throw new CudaException("cublasLtMatmulAlgoGetHeuristic", CublasLtNative.STATUS_NOT_SUPPORTED, "no FP8 algorithm", key.ToString());
        Matmul(plan, plan.Algorithm(index), x, w, y, 0f);
    }

    // The cached plan of the key, made (and its algorithm chosen on this call's operands) on first use.
    private GemmPlan Plan(GemmKey key, ulong x, ulong w, ulong y, int m, float beta, ulong wScales = 0, ulong xScales = 0)
    {
        if (_plans.TryGetValue(key, out var plan)) return plan;
        plan = new GemmPlan(key, key.Fp8 && _fp8FastAccumulation);
        try
        {
            if (key.Fp8) plan.SetScales(wScales, xScales);
            Choose(plan, x, w, y, m, beta);
        }
        catch { plan.Dispose(); throw; }
        _plans[key] = plan;
        return plan;
    }

    private void Matmul(GemmPlan plan, CublasLtAlgo algo, ulong x, ulong w, ulong y, float beta)
    {
        var lt = CublasLtNative.Instance;
        float alpha = 1f;
        lt.Check(lt.cublasLtMatmul(_lt, plan.Desc, &alpha, w, plan.A, x, plan.B, &beta, y, plan.D, y, plan.D, &algo,
            _workspace.Ptr, (nuint)WorkspaceBytes, _device.Stream), "cublasLtMatmul", plan.Key.ToString());
    }

    // Picks the bucket's algorithm: the heuristic's first choice for the bucket's largest M or, with the timed search,
    // the fastest of its top candidates on this call's operands (never while a graph is being captured, and not when
    // beta != 0, where the trial runs would accumulate into Y).
    private void Choose(GemmPlan plan, ulong x, ulong w, ulong y, int m, float beta)
    {
        bool timed = _timed && beta == 0f && !_device.IsCapturing;
        var candidates = plan.Candidates(_lt, _preference, timed ? SearchCandidates : 1);
        if (candidates.Length == 0) { plan.ChooseForBucket(null, ""); return; }
        if (!timed || candidates.Length == 1) { plan.ChooseForBucket(candidates[0].Algo, "heuristic"); return; }

        plan.SetRows(m);
        int best = -1;
        float bestMs = float.MaxValue, firstMs = float.NaN;
        for (int i = 0; i < candidates.Length; i++)
        {
            var algo = candidates[i].Algo;
            if (!Accepts(plan, algo)) continue;
            Matmul(plan, algo, x, w, y, 0f); // warm-up (and module load) outside the timing
            const int reps = 5;
            float ms = _device.Time(() => { for (int r = 0; r < reps; r++) Matmul(plan, algo, x, w, y, 0f); }) / reps;
            if (i == 0) firstMs = ms;
            if (ms < bestMs) { bestMs = ms; best = i; }
        }
        if (best < 0) { plan.ChooseForBucket(candidates[0].Algo, "heuristic"); return; }
        plan.ChooseForBucket(candidates[best].Algo,
            $"timed at m={m}: candidate {best + 1}/{candidates.Length}, {bestMs * 1e3:F1} us (heuristic's first {firstMs * 1e3:F1} us)");
    }

    private bool Accepts(GemmPlan plan, CublasLtAlgo algo)
    {
        CublasLtHeuristicResult check;
        return CublasLtNative.Instance.cublasLtMatmulAlgoCheck(_lt, plan.Desc, plan.A, plan.B, plan.D, plan.D, &algo, &check) == 0
            && check.State == 0 && (long)check.WorkspaceSize <= WorkspaceBytes;
    }

    private void GemmEx(ulong x, ulong w, ulong y, int m, int n, int k, bool outputF32, float beta)
    {
        var b = CublasNative.Instance;
        float alpha = 1f;
        // Column-major view: Yᵀ[n, m] = W[k, n]ᵀ · Xᵀ[k, m], i.e. op(A) = T on W and op(B) = N on X.
        b.Check(b.cublasGemmEx(_handle, CublasNative.CUBLAS_OP_T, CublasNative.CUBLAS_OP_N, n, m, k,
            &alpha, w, CublasNative.CUDA_R_16BF, k, x, CublasNative.CUDA_R_16BF, k,
            &beta, y, outputF32 ? CublasNative.CUDA_R_32F : CublasNative.CUDA_R_16BF, n,
            CublasNative.CUBLAS_COMPUTE_32F, CublasNative.CUBLAS_GEMM_DEFAULT),
            "cublasGemmEx", $"m={m} n={n} k={k}");
    }

    private void ClearPlans()
    {
        foreach (var p in _plans.Values) p.Dispose();
        _plans.Clear();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_handle == 0) return;
        ClearPlans();
        if (_preference != 0) CublasLtNative.Instance.cublasLtMatmulPreferenceDestroy(_preference);
        if (_lt != 0) CublasLtNative.Instance.cublasLtDestroy(_lt);
        _preference = _lt = 0;
        CublasNative.Instance.cublasDestroy(_handle);
        _handle = 0;
        _workspace?.Dispose();
    }
}
