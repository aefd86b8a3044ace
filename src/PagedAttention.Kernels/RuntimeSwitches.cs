using System.Globalization;

namespace PagedAttention.Kernels;

/// <summary>
/// The process's <c>PAGEDATTENTION_*</c> environment switches, read once (<see cref="FromEnvironment"/>) and handed to
/// the layers that use them: the engine (<see cref="Overlap"/>), the CUDA model runner and model
/// (<see cref="TensorCorePrefill"/>, <see cref="FastPrefill"/>), the CUDA kernels (<see cref="ProgrammaticLaunch"/>,
/// <see cref="AttentionVariant"/>, <see cref="KernelCacheDirectory"/>), cuBLAS (<see cref="CublasLt"/>,
/// <see cref="GemmSearch"/>) and the CPU worker pool (<see cref="CpuThreads"/>, <see cref="CpuSpinIterations"/>).
/// <c>new RuntimeSwitches()</c> holds the defaults, which are what an empty environment gives. docs/switches.md
/// lists them all.
/// </summary>
/// <remarks>
/// <see cref="FromEnvironment"/> is the only place in the library that reads environment variables. Values that do
/// not parse, or are out of range, fall back to the default (as before: the switches are for A/B runs and debugging,
/// and a typo must not stop a server).
/// </remarks>
internal sealed record RuntimeSwitches
{
    /// <summary>Environment variable of <see cref="Overlap"/>.</summary>
    public const string OverlapVariable = "PAGEDATTENTION_OVERLAP";

    /// <summary>Environment variable of <see cref="TensorCorePrefill"/>.</summary>
    public const string PrefillKernelVariable = "PAGEDATTENTION_PREFILL_KERNEL";

    /// <summary>Environment variable of <see cref="FastPrefill"/>.</summary>
    public const string PrefillFastVariable = "PAGEDATTENTION_PREFILL_FAST";

    /// <summary>Environment variable of <see cref="WidePrefill"/>.</summary>
    public const string PrefillWideVariable = "PAGEDATTENTION_PREFILL_WIDE";

    /// <summary>Environment variable of <see cref="ProgrammaticLaunch"/>.</summary>
    public const string PdlVariable = "PAGEDATTENTION_PDL";

    /// <summary>Environment variable of <see cref="AttentionVariant"/>.</summary>
    public const string AttentionVariantVariable = "PAGEDATTENTION_ATTN_VARIANT";

    /// <summary>Environment variable of <see cref="KernelCacheDirectory"/>.</summary>
    public const string KernelCacheVariable = "PAGEDATTENTION_KERNEL_CACHE";

    /// <summary>Environment variable of <see cref="CublasLt"/>.</summary>
    public const string CublasLtVariable = "PAGEDATTENTION_CUBLASLT";

    /// <summary>Environment variable of <see cref="GemmSearch"/>.</summary>
    public const string GemmSearchVariable = "PAGEDATTENTION_GEMM_SEARCH";

    /// <summary>Environment variable of <see cref="Fp8FastAccumulation"/>.</summary>
    public const string Fp8FastAccumulationVariable = "PAGEDATTENTION_FP8_FAST_ACCUM";

    /// <summary>Environment variable of <see cref="CpuThreads"/>.</summary>
    public const string CpuThreadsVariable = "PAGEDATTENTION_CPU_THREADS";

    /// <summary>Environment variable of <see cref="SwapCopyKernel"/>.</summary>
    public const string SwapKernelVariable = "PAGEDATTENTION_SWAP_KERNEL";

    /// <summary>Environment variable of <see cref="CpuSpinIterations"/>.</summary>
    public const string CpuSpinVariable = "PAGEDATTENTION_CPU_SPIN";

    /// <summary>Environment variable of <see cref="CpuHugePages"/>.</summary>
    public const string CpuHugePagesVariable = "PAGEDATTENTION_CPU_HUGE_PAGES";

    /// <summary>Every variable <see cref="FromEnvironment"/> reads.</summary>
    public static IReadOnlyList<string> Variables { get; } =
    [
        OverlapVariable, PrefillKernelVariable, PrefillFastVariable, PrefillWideVariable, PdlVariable, AttentionVariantVariable,
        KernelCacheVariable, CublasLtVariable, GemmSearchVariable, Fp8FastAccumulationVariable, CpuThreadsVariable, CpuSpinVariable,
        SwapKernelVariable, CpuHugePagesVariable,
    ];

    /// <summary>Default of <see cref="CpuSpinIterations"/>.</summary>
    public const int DefaultCpuSpinIterations = 200;

    /// <summary>
    /// Engine: pipeline steps on an asynchronous device (host work for step N+1 while step N runs on the GPU).
    /// Default true; <c>PAGEDATTENTION_OVERLAP=0</c> turns it off.
    /// </summary>
    public bool Overlap { get; init; } = true;

    /// <summary>
    /// CUDA model: steps with prefill rows use the tensor-core prefill kernel. Default true;
    /// <c>PAGEDATTENTION_PREFILL_KERNEL=0</c> falls back to the decode-style kernel.
    /// </summary>
    public bool TensorCorePrefill { get; init; } = true;

    /// <summary>
    /// CUDA model: the prefill kernel rounds q and P to bf16 once (FlashAttention's precision) instead of hi + lo.
    /// Default false; <c>PAGEDATTENTION_PREFILL_FAST=1</c> turns it on.
    /// </summary>
    public bool FastPrefill { get; init; }

    /// <summary>
    /// CUDA kernels: bf16 prefill attention through the wide kernel (128-row CTAs, two m16 tiles per warp;
    /// <c>CudaKernels.WidePrefill</c>). Default false: written and compile-checked, not yet measured on a GPU;
    /// <c>PAGEDATTENTION_PREFILL_WIDE=1</c> turns it on where the device has the shared memory.
    /// </summary>
    public bool WidePrefill { get; init; }

    /// <summary>
    /// CUDA kernels: programmatic dependent launch where the device and driver support it. Default true;
    /// <c>PAGEDATTENTION_PDL=0</c> turns it off.
    /// </summary>
    public bool ProgrammaticLaunch { get; init; } = true;

    /// <summary>
    /// CUDA kernels: which decode attention kernel runs (-1 to 10; see <c>CudaKernels.AttentionVariant</c>).
    /// Default 0; <c>PAGEDATTENTION_ATTN_VARIANT</c> sets it, other values are ignored.
    /// </summary>
    public int AttentionVariant { get; init; }

    /// <summary>
    /// CUDA kernels: the directory of the on-disk kernel cache; null (default) means
    /// <c>~/.cache/PagedAttention/kernels</c>. <c>PAGEDATTENTION_KERNEL_CACHE</c> sets it (an empty value is the default).
    /// </summary>
    public string? KernelCacheDirectory { get; init; }

    /// <summary>
    /// cuBLAS: GEMMs through cuBLASLt with an algorithm cached per shape bucket. Default true;
    /// <c>PAGEDATTENTION_CUBLASLT=0</c> uses <c>cublasGemmEx</c>.
    /// </summary>
    public bool CublasLt { get; init; } = true;

    /// <summary>
    /// cuBLAS: time the heuristic's top candidates once per bucket and keep the fastest. Default false;
    /// <c>PAGEDATTENTION_GEMM_SEARCH=1</c> turns it on.
    /// </summary>
    public bool GemmSearch { get; init; }

    /// <summary>
    /// cuBLAS: FP8 GEMMs (W8A8) in cuBLASLt's fast-accumulation mode (<c>CUBLASLT_MATMUL_DESC_FAST_ACCUM</c>): Hopper's
    /// FP8 tensor cores keep partial sums in their own reduced-precision accumulator instead of promoting them to fp32
    /// every few k-steps. Default false; <c>PAGEDATTENTION_FP8_FAST_ACCUM=1</c> turns it on (docs/cuda.md, "FP8
    /// weights").
    /// </summary>
    public bool Fp8FastAccumulation { get; init; }

    /// <summary>
    /// CUDA swap space and host tier: copy blocks with one <c>kv_swap_copy</c> launch per batch (kv_swap.cu) instead of
    /// two cuMemcpyAsync per layer per block (H200, <c>GpuCheck --swap</c>: byte for byte the same, 52 / 50 GB/s out /
    /// in against 13 / 10). Default true; <c>PAGEDATTENTION_SWAP_KERNEL=0</c> falls back to the cuMemcpy path.
    /// </summary>
    public bool SwapCopyKernel { get; init; } = true;

    /// <summary>
    /// CPU: threads of the process-wide worker pool, the caller included; null (default) means
    /// <see cref="Environment.ProcessorCount"/>. <c>PAGEDATTENTION_CPU_THREADS</c> sets it (a positive integer).
    /// </summary>
    public int? CpuThreads { get; init; }

    /// <summary>
    /// CPU: <c>Thread.SpinWait(20)</c> rounds an idle worker of the process-wide pool polls before it sleeps. Default
    /// 200; <c>PAGEDATTENTION_CPU_SPIN</c> sets it (a non-negative integer).
    /// </summary>
    public int CpuSpinIterations { get; init; } = DefaultCpuSpinIterations;

    /// <summary>
    /// CPU: copy the checkpoint's float linear weights and LM head out of the memory-mapped file into owned memory on
    /// huge pages (2 MiB-aligned, <c>madvise(MADV_HUGEPAGE)</c> on Linux), and build quantized weights there, so a
    /// GEMV's walk takes no TLB miss or prefetcher stop every 4 KiB (309M bf16 decode at one thread: 34–37 → 46–50
    /// tok/s on the dev VM). The same values: results are bit for bit unchanged. Default true;
    /// <c>PAGEDATTENTION_CPU_HUGE_PAGES=0</c> reads the weights through the mapped file as before.
    /// </summary>
    public bool CpuHugePages { get; init; } = true;

    /// <summary>Reads every switch from the process environment; unset or unparsable variables give the defaults.</summary>
    public static RuntimeSwitches FromEnvironment()
    {
        static string? Get(string name) => Environment.GetEnvironmentVariable(name);
        var d = new RuntimeSwitches();
        return new RuntimeSwitches
        {
            Overlap = Get(OverlapVariable) != "0",
            TensorCorePrefill = Get(PrefillKernelVariable) != "0",
            FastPrefill = Get(PrefillFastVariable) == "1",
            WidePrefill = Get(PrefillWideVariable) == "1",
            ProgrammaticLaunch = Get(PdlVariable) != "0",
            AttentionVariant = ParseInt(Get(AttentionVariantVariable)) is { } v && Cuda.CudaKernels.IsAttentionVariant(v) ? v : d.AttentionVariant,
            KernelCacheDirectory = Get(KernelCacheVariable) is { Length: > 0 } dir ? dir : null,
            CublasLt = Get(CublasLtVariable) != "0",
            GemmSearch = Get(GemmSearchVariable) == "1",
            Fp8FastAccumulation = Get(Fp8FastAccumulationVariable) == "1",
            SwapCopyKernel = Get(SwapKernelVariable) != "0",
            CpuThreads = ParseInt(Get(CpuThreadsVariable)) is { } t && t > 0 ? t : null,
            CpuSpinIterations = ParseInt(Get(CpuSpinVariable)) is { } s && s >= 0 ? s : d.CpuSpinIterations,
            CpuHugePages = Get(CpuHugePagesVariable) != "0",
        };
    }

    // NumberStyles.Integer as int.TryParse(string) had it; the invariant culture (only the minus sign of -1 could
    // differ between cultures).
    private static int? ParseInt(string? s) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : null;
}
