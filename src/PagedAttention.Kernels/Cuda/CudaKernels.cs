using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// The NVRTC-compiled kernels of one model shape (head size and query heads per KV head are compile-time constants),
/// loaded into a <see cref="CudaDevice"/>. Every method queues one launch on the device's stream; all pointers are
/// device addresses and shapes follow <see cref="Cpu.CpuOps"/>, except that the KV cache is laid out
/// [numBlocks, numKvHeads, blockSize, headDim] (see <see cref="CudaKvCache"/>).
/// </summary>
internal unsafe class CudaKernels : IDisposable
{
    private readonly CudaDevice _device;
    private nint _module;
    private readonly nint _embedding, _addRmsNorm, _rope, _siluMul, _attention, _attentionU4Pf, _attentionU2Pf, _attentionU4Lb, _attentionW4, _attentionW2Pf, _attentionW8, _attentionMerge, _prefill, _prefillWide, _prefillWidePrecise, _ropeFp8, _attentionFp8, _attentionFp8W4, _attentionFp8W2Pf, _attentionFp8W8, _prefillFp8, _attentionMma, _attentionMmaPf, _attentionMmaT2, _attentionMmaFp8, _attentionMmaFp8Pf, _attentionMmaFp8T4, _argmax, _penalties, _sample, _gemv, _kvSwap, _quantFp8, _addRmsNormFp8, _siluMulFp8;

    /// <summary>Compiles (or loads from the disk cache) and loads the kernels for <paramref name="headDim"/> and <paramref name="group"/>.</summary>
    /// <param name="device">The device to load into.</param>
    /// <param name="headDim">Elements per head: 16, 32, 64, 128 or 256.</param>
    /// <param name="group">Query heads per KV head, 1..16.</param>
    /// <param name="switches">
    /// The kernel cache directory, and the initial <see cref="ProgrammaticLaunch"/> and <see cref="AttentionVariant"/>.
    /// </param>
    public CudaKernels(CudaDevice device, int headDim, int group, RuntimeSwitches switches)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(switches);
        if (headDim is not (16 or 32 or 64 or 128 or 256)) throw new ArgumentOutOfRangeException(nameof(headDim), headDim, "The CUDA kernels support head sizes 16, 32, 64, 128 and 256.");
        if (group is < 1 or > 16) throw new ArgumentOutOfRangeException(nameof(group), group, "The CUDA kernels support 1..16 query heads per KV head.");
        _device = device;
        HeadDim = headDim;
        Group = group;
        var (major, minor) = device.ComputeCapability;
        // sm_90a unlocks wgmma/setmaxnreg on Hopper; NVRTC 11.x knows only sm_90.
        Arch = major == 9 && minor == 0 && NvrtcCompiler.Version.Major >= 12 ? "sm_90a" : $"sm_{major}{minor}";
        var image = KernelCache.GetOrCompile(switches, CudaKernelSources.ModuleSource, "pagedattention", Arch, CudaKernelSources.Defines(headDim, group), out bool cached);
        LoadedFromCache = cached;
        device.MakeCurrent();
        nint module;
        fixed (byte* p = image) CuDriver.Check(CuDriver.Fn.cuModuleLoadData(&module, p), $"cuModuleLoadData({Arch})");
        _module = module;
        _embedding = Function("embedding_gather");
        _addRmsNorm = Function("fused_add_rms_norm");
        _rope = Function("rope_qkv_write");
        _siluMul = Function("silu_mul");
        _attention = Function("paged_attention");
        _attentionU4Pf = Function("paged_attention_u4pf");
        _attentionU2Pf = Function("paged_attention_u2pf");
        _attentionU4Lb = Function("paged_attention_u4lb");
        _attentionW4 = Function("paged_attention_w4");
        _attentionW2Pf = Function("paged_attention_w2pf");
        _attentionW8 = Function("paged_attention_w8");
        _attentionMerge = Function("paged_attention_merge");
        _prefill = Function("prefill_attention");
        _ropeFp8 = Function("rope_qkv_write_fp8");
        _attentionFp8 = Function("paged_attention_fp8");
        _attentionFp8W4 = Function("paged_attention_fp8_w4");
        _attentionFp8W2Pf = Function("paged_attention_fp8_w2pf");
        _attentionFp8W8 = Function("paged_attention_fp8_w8");
        _prefillFp8 = Function("prefill_attention_fp8");
        _attentionMma = Function("paged_attention_mma");
        _attentionMmaPf = Function("paged_attention_mma_pf");
        _attentionMmaT2 = Function("paged_attention_mma_t2");
        _attentionMmaFp8 = Function("paged_attention_mma_fp8");
        _attentionMmaFp8Pf = Function("paged_attention_mma_fp8_pf");
        _attentionMmaFp8T4 = Function("paged_attention_mma_fp8_t4");
        SupportsMmaDecode = headDim is 64 or 128 && group <= 8 && major >= 8;
        SupportsMmaDecodeFp8 = SupportsMmaDecode && (major, minor) is ( > 8, _) or (8, >= 9);
        SupportsPrefillAttention = headDim is 16 or 32 or 64 or 128 && major >= 8;
        _prefillWide = Function("prefill_attention_wide");
        _prefillWidePrecise = Function("prefill_attention_wide_precise");
        SupportsWidePrefill = SupportsPrefillAttention && device.MaxSharedMemoryPerBlockOptIn >= WidePrefillSharedBytes(headDim, true);
        WidePrefill = SupportsWidePrefill && switches.WidePrefill;
        _argmax = Function("argmax_rows");
        _penalties = Function("apply_penalties");
        _sample = Function("sample_rows");
        _gemv = Function("gemv_bf16");
        _kvSwap = Function("kv_swap_copy");
        _quantFp8 = Function("quantize_rows_fp8");
        _addRmsNormFp8 = Function("fused_add_rms_norm_fp8");
        _siluMulFp8 = Function("silu_mul_fp8");
        SupportsProgrammaticLaunch = major >= 9 && CuDriver.Fn.cuLaunchKernelEx != null;
        ProgrammaticLaunch = SupportsProgrammaticLaunch && switches.ProgrammaticLaunch;
        AttentionVariant = switches.AttentionVariant;
    }

    /// <summary>Elements per head.</summary>
    public int HeadDim { get; }

    /// <summary>Query heads per KV head.</summary>
    public int Group { get; }

    /// <summary>The NVRTC target, e.g. sm_90a.</summary>
    public string Arch { get; }

    /// <summary>Whether the image came from the disk cache rather than a fresh compilation.</summary>
    public bool LoadedFromCache { get; }

    private nint Function(string name)
    {
        nint f;
        var bytes = System.Text.Encoding.ASCII.GetBytes(name + "\0");
        fixed (byte* p = bytes) CuDriver.Check(CuDriver.Fn.cuModuleGetFunction(&f, _module, p), $"cuModuleGetFunction({name})");
        return f;
    }

    /// <summary>
    /// Whether launches allow programmatic dependent launch (Hopper and later, driver with cuLaunchKernelEx): a kernel
    /// may be scheduled while the previous one drains, and waits in <c>pdl_begin()</c> (common.cu) for its results.
    /// On by default where supported; <see cref="RuntimeSwitches.ProgrammaticLaunch"/> (PAGEDATTENTION_PDL=0) turns it off.
    /// </summary>
    public bool ProgrammaticLaunch
    {
        get => _programmaticLaunch;
        set
        {
            if (value && !SupportsProgrammaticLaunch) throw new NotSupportedException("Programmatic dependent launch needs sm_90+ and a driver with cuLaunchKernelEx.");
            _programmaticLaunch = value;
        }
    }

    private bool _programmaticLaunch;

    /// <summary>Whether the device (sm_90+) and driver (cuLaunchKernelEx) support <see cref="ProgrammaticLaunch"/>.</summary>
    public bool SupportsProgrammaticLaunch { get; }

    /// <summary>Threads per CTA of <see cref="KvSwapCopy"/> (its <c>__launch_bounds__</c>).</summary>
    public const int KvSwapThreads = 256;

    /// <summary>
    /// Queues on <paramref name="stream"/> (the swap space's copy stream, not the compute stream: no programmatic
    /// launch) the copies of <paramref name="numPairs"/> (device block, host block) pairs at device address
    /// <paramref name="pairs"/>, every one of <paramref name="numSlices"/> slices (bases at <paramref name="slices"/>),
    /// between the device pools and the mapped host blocks at <paramref name="host"/>. kv_swap.cu has the layout.
    /// </summary>
    public void KvSwapCopy(nint stream, ulong pairs, int numPairs, ulong slices, int numSlices, ulong host, long hostBlockBytes, long sliceBytes, bool toHost)
    {
        ObjectDisposedException.ThrowIf(_module == 0, this);
        if (sliceBytes <= 0 || sliceBytes % 16 != 0) throw new ArgumentOutOfRangeException(nameof(sliceBytes), sliceBytes, "kv_swap_copy copies 16-byte words.");
        if (numPairs is < 0 or > ushort.MaxValue) throw new ArgumentOutOfRangeException(nameof(numPairs), numPairs, "At most 65,535 pairs per launch (the grid's y).");
        if (numPairs == 0 || numSlices <= 0) return;
        int dir = toHost ? 1 : 0;
        void** a = stackalloc void*[6];
        a[0] = &pairs; a[1] = &slices; a[2] = &host; a[3] = &hostBlockBytes; a[4] = &sliceBytes; a[5] = &dir;
        CuDriver.Check(CuDriver.Fn.cuLaunchKernel(_kvSwap, (uint)numSlices, (uint)numPairs, 1, KvSwapThreads, 1, 1, 0, stream, a, null), "cuLaunchKernel(kv_swap_copy)");
    }

    private void Launch(nint f, uint gx, uint gy, uint gz, uint block, void** args, string name, uint sharedBytes = 0)
    {
        ObjectDisposedException.ThrowIf(_module == 0, this);
        if (gx == 0 || gy == 0 || gz == 0) return;
        if (ProgrammaticLaunch)
        {
            LaunchAttribute attr = default;
            attr.Id = LaunchAttribute.ProgrammaticStreamSerialization;
            attr.Value = 1;
            var cfg = new LaunchConfig
            {
                GridX = gx, GridY = gy, GridZ = gz, BlockX = block, BlockY = 1, BlockZ = 1, SharedMemBytes = sharedBytes,
                Stream = _device.Stream, Attributes = &attr, NumAttributes = 1,
            };
            CuDriver.Check(CuDriver.Fn.cuLaunchKernelEx(&cfg, f, args, null), $"cuLaunchKernelEx({name})");
            return;
        }
        CuDriver.Check(CuDriver.Fn.cuLaunchKernel(f, gx, gy, gz, block, 1, 1, sharedBytes, _device.Stream, args, null), $"cuLaunchKernel({name})");
    }

    /// <summary>hidden[t, :] = fp32(table[ids[t], :]) for <paramref name="tokens"/> tokens; table is [vocab, d] bf16.</summary>
    public void Embedding(ulong ids, ulong table, ulong hidden, int tokens, int d)
    {
        void** a = stackalloc void*[] { &ids, &table, &hidden, &d };
        Launch(_embedding, (uint)tokens, 1, 1, 256, a, "embedding_gather");
    }

    /// <summary>
    /// residual += delta (+ bias) and out = bf16(RMSNorm(residual) · weight), per row of <paramref name="d"/>.
    /// <paramref name="delta"/> and <paramref name="bias"/> may be 0. With <paramref name="rowEnds"/> (int[rows]),
    /// output row r is computed from residual row rowEnds[r] − 1 (the last token of each sequence).
    /// </summary>
    public void FusedAddRmsNorm(ulong residual, ulong delta, ulong bias, ulong weight, ulong output, ulong rowEnds, int rows, int d, float eps)
    {
        void** a = stackalloc void*[] { &residual, &delta, &bias, &weight, &output, &rowEnds, &d, &eps };
        Launch(_addRmsNorm, (uint)rows, 1, 1, (uint)Math.Clamp((d / 4 + 31) / 32 * 32, 32, 1024), a, "fused_add_rms_norm");
    }

    /// <summary>
    /// Splits the merged QKV GEMM output [tokens, (nh + 2·nkv)·HeadDim] (bf16): adds <paramref name="bias"/>, applies the
    /// per-head q/k norms (both 0 when absent), rotates q and k, writes q (fp32, [tokens, nh, HeadDim]) and stores K/V
    /// (bf16) at each token's slot of the cache; slot −1 writes nothing. With <paramref name="fp8"/> the cache holds
    /// FP8 E4M3 codes (<see cref="CudaKvCache.IsFp8"/>): K and V are stored as E4M3(x / scale) with the layer's
    /// <paramref name="fp8"/> scales (<see cref="Fp8KvCache.Encode"/>'s rule).
    /// </summary>
    public void RopeQkvWrite(ulong qkv, ulong bias, ulong qNorm, ulong kNorm, ulong invFreq, ulong positions, ulong slots,
        ulong qOut, ulong kCache, ulong vCache, int tokens, int nh, int nkv, int blockSize, float eps, KvScales? fp8 = null)
    {
        uint warps = (uint)Math.Min(nh + 2 * nkv, 8);
        if (fp8 is { } s)
        {
            float ks = s.K, vs = s.V;
            void** f = stackalloc void*[] { &qkv, &bias, &qNorm, &kNorm, &invFreq, &positions, &slots, &qOut, &kCache, &vCache, &nh, &nkv, &blockSize, &eps, &ks, &vs };
            Launch(_ropeFp8, (uint)tokens, 1, 1, warps * 32, f, "rope_qkv_write_fp8");
            return;
        }
        void** a = stackalloc void*[] { &qkv, &bias, &qNorm, &kNorm, &invFreq, &positions, &slots, &qOut, &kCache, &vCache, &nh, &nkv, &blockSize, &eps };
        Launch(_rope, (uint)tokens, 1, 1, warps * 32, a, "rope_qkv_write");
    }

    /// <summary>out[t, i] = bf16(silu(gu[t, i]) · gu[t, inter + i]) for the merged gate|up output gu [tokens, 2·inter] bf16.</summary>
    public void SiluMul(ulong gateUp, ulong output, int tokens, int inter)
    {
        long total = (long)tokens * inter;
        void** a = stackalloc void*[] { &gateUp, &output, &inter, &total };
        uint blocks = (uint)Math.Min((total + 255) / 256, _device.MultiprocessorCount * 16L);
        Launch(_siluMul, blocks, 1, 1, 256, a, "silu_mul");
    }

    /// <summary>
    /// Dynamic per-row FP8 quantization of bf16 rows: codes [rows, d] E4M3 = input / s_r, s_r = max|row| / 448 into
    /// scales [rows] (fp32). The W8A8 input of the O projection, and the quantizer of bf16 weights converted to FP8 at
    /// load (one scale per output channel). The kernels follow <see cref="Fp8Quantizer"/>'s rule and were checked bit for bit against it on an H200
    /// (<c>GpuCheck --fp8-kernels</c>); CudaLlamaModel's FP8 layers call them.
    /// </summary>
    public void QuantizeRowsFp8(ulong input, ulong codes, ulong scales, int rows, int d)
    {
        void** a = stackalloc void*[] { &input, &codes, &scales, &d };
        Launch(_quantFp8, (uint)rows, 1, 1, RowThreads(d, 8), a, "quantize_rows_fp8");
    }

    /// <summary>
    /// <see cref="FusedAddRmsNorm"/> (without row gathering) whose bf16 outputs are then quantized per row to FP8 like
    /// <see cref="QuantizeRowsFp8"/>: the QKV and gate|up GEMMs' W8A8 input.
    /// </summary>
    public void FusedAddRmsNormFp8(ulong residual, ulong delta, ulong bias, ulong weight, ulong codes, ulong scales, int rows, int d, float eps)
    {
        void** a = stackalloc void*[] { &residual, &delta, &bias, &weight, &codes, &scales, &d, &eps };
        Launch(_addRmsNormFp8, (uint)rows, 1, 1, RowThreads(d, 4), a, "fused_add_rms_norm_fp8");
    }

    /// <summary><see cref="SiluMul"/> whose bf16 products are then quantized per token to FP8 like <see cref="QuantizeRowsFp8"/>: the down GEMM's W8A8 input.</summary>
    public void SiluMulFp8(ulong gateUp, ulong codes, ulong scales, int tokens, int inter)
    {
        void** a = stackalloc void*[] { &gateUp, &codes, &scales, &inter };
        Launch(_siluMulFp8, (uint)tokens, 1, 1, RowThreads(inter, 8), a, "silu_mul_fp8");
    }

    // One CTA per row: a thread per vector of `width` elements, in whole warps, 32 to 1024.
    private static uint RowThreads(int d, int width) => (uint)Math.Clamp((d / width + 31) / 32 * 32, 32, 1024);

    /// <summary>
    /// How many KV splits <see cref="PagedAttention"/> should use: none when (token, KV head) pairs already give 2 CTAs per
    /// SM; otherwise enough to reach about 4 CTAs per SM, at least 128 keys per split, at most 32 splits.
    /// </summary>
    public int PlanSplits(int tokens, int nkv, int maxContext)
    {
        int ctas = tokens * nkv, sms = _device.MultiprocessorCount;
        if (ctas >= 2 * sms || maxContext < 256) return 1;
        return Math.Clamp(Math.Min((4 * sms + ctas - 1) / ctas, maxContext / 128), 1, 32);
    }

    /// <summary>
    /// Which decode kernel <see cref="PagedAttention"/> launches. 0 (default): the tensor-core GQA kernel of
    /// paged_attention_mma.cu with two 16-key tiles per warp and iteration (variant 10; for the FP8 cache variant 8)
    /// where <see cref="SupportsMmaDecode"/> (<see cref="SupportsMmaDecodeFp8"/>) holds, else the CUDA-core tile of
    /// variant 1. On the H200 (docs/cuda.md, "Decode attention on tensor cores") it reads K/V at 3.7–4.5 TB/s (bf16)
    /// and 3.1–4.0 TB/s (FP8) at batch 256, against 2.8–3.3 and 1.4–1.6 for variant 1, and serves the 8B ShareGPT-like
    /// list 7 % (bf16) to 18 % (FP8 KV) faster. It rounds q and the probabilities to bf16 (f16 for the FP8 cache)
    /// before the products, as FlashAttention does; the CUDA-core variants keep them in fp32.
    /// 1: the CUDA-core <c>paged_attention</c> (tiles of 8 16-byte K/V loads per lane, 4 when GROUP &gt; 4; the default
    /// until 2026-12-04). −1: by occupancy, variant 3 when the launch has one KV split and at most 4 CTAs per SM, else
    /// 1. 2: tiles of 4 loads with the next tile prefetched, 3: tiles of 2 loads with prefetch, 4: variant 2 held to
    /// 128 registers. 5–7, the wide CUDA-core variants: 16 dims per lane (<c>ATT_WIDE</c> in paged_attention.cu; 8
    /// when GROUP &gt; 4), in tiles of 4 keys (5), 2 keys with prefetch (6) or 8 keys (7; 4 when GROUP &gt; 4).
    /// 8–10, the tensor-core kernels: one 16-key tile per warp and iteration (8), with the next prefetched (9), two
    /// tiles (10); for the FP8 cache two tiles (8), one with prefetch (9), four (10); where not supported they run
    /// variant 1. The FP8 KV cache has the CUDA-core default tile (1 and every value without an FP8 kernel), the wide
    /// variants 5–7 (<c>paged_attention_fp8_w4/_w2pf/_w8</c>) and the tensor-core ones. All compute the same
    /// attention; the summation order differs with the tile.
    /// </summary>
    /// <remarks><see cref="RuntimeSwitches.AttentionVariant"/> (PAGEDATTENTION_ATTN_VARIANT) sets the initial value (for A/B runs).</remarks>
    public int AttentionVariant
    {
        get => _attentionVariant;
        set
        {
            if (!IsAttentionVariant(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "Attention variants are -1 to 10.");
            _attentionVariant = value;
        }
    }

    /// <summary>Whether <paramref name="value"/> names a decode kernel variant (<see cref="AttentionVariant"/>).</summary>
    internal static bool IsAttentionVariant(int value) => value is >= -1 and <= 10;

    /// <summary>
    /// Whether the tensor-core decode kernels (paged_attention_mma.cu: <see cref="AttentionVariant"/> 0, the default,
    /// and 8–10) run for this shape and device: sm_80+, head size 64 or 128, at most 8 query heads per KV head. Where
    /// not, those variants run the CUDA-core kernel of variant 1.
    /// </summary>
    public bool SupportsMmaDecode { get; }

    /// <summary>
    /// Whether the FP8 KV cache's tensor-core decode kernels run: <see cref="SupportsMmaDecode"/> on sm_89+ (the
    /// E4M3 → f16 conversion instruction).
    /// </summary>
    public bool SupportsMmaDecodeFp8 { get; }

    private int _attentionVariant;

    /// <summary>Bytes of workspace <see cref="PagedAttention"/> needs for <paramref name="splits"/> splits (0 for one).</summary>
    public long AttentionWorkspaceBytes(int tokens, int nh, int splits) =>
        splits <= 1 ? 0 : (long)tokens * nh * splits * (HeadDim + 1) * sizeof(float);

    /// <summary>
    /// Causal paged attention: q [tokens, nh, HeadDim] fp32 (unscaled) → out [tokens, nh·HeadDim] bf16, over the cache
    /// through queryStarts [seqs+1], contextLens [seqs] and blockTables [seqs, maxBlocksPerSeq] (all int).
    /// With <paramref name="splits"/> &gt; 1, <paramref name="workspace"/> must hold <see cref="AttentionWorkspaceBytes"/>.
    /// With <paramref name="skipPrefill"/>, rows of sequences with more than one query token are left alone (with splits,
    /// the merge then writes garbage there): run <see cref="PrefillAttention"/> afterwards for them.
    /// With <paramref name="fp8"/> the cache holds FP8 E4M3 codes read as code × the layer's scale, by the kernel
    /// <see cref="AttentionVariant"/> picks for it (by default <c>paged_attention_mma_fp8</c> where
    /// <see cref="SupportsMmaDecodeFp8"/>, else <c>paged_attention_fp8</c>).
    /// </summary>
    public void PagedAttention(ulong q, ulong output, ulong kCache, ulong vCache, ulong queryStarts, ulong contextLens, ulong blockTables,
        int tokens, int seqs, int nh, int nkv, int blockSize, int maxBlocksPerSeq, float scale, int splits = 1, ulong workspace = 0,
        bool skipPrefill = false, KvScales? fp8 = null)
    {
        if (nh != nkv * Group) throw new ArgumentException($"nh ({nh}) must be nkv ({nkv}) x {Group}, the group these kernels were compiled for.");
        if (splits < 1) throw new ArgumentOutOfRangeException(nameof(splits));
        if (splits > 1 && workspace == 0) throw new ArgumentException("A split-KV launch needs a workspace.", nameof(workspace));
        int skip = skipPrefill ? 1 : 0;
        ulong partO = splits > 1 ? workspace : 0;
        ulong partLse = splits > 1 ? workspace + (ulong)((long)tokens * nh * splits * HeadDim * sizeof(float)) : 0;
        float ks = fp8?.K ?? 1f, vs = fp8?.V ?? 1f;
        void** a = stackalloc void*[] { &q, &output, &partO, &partLse, &kCache, &vCache, &queryStarts, &contextLens, &blockTables, &seqs, &nh, &nkv, &blockSize, &maxBlocksPerSeq, &scale, &skip, &ks, &vs };
        nint f = fp8 is not null ? Fp8DecodeKernel() : Bf16DecodeKernel(splits == 1 && (long)seqs * nkv <= 4L * _device.MultiprocessorCount);
        Launch(f, (uint)tokens, (uint)nkv, (uint)splits, AttentionThreads, a, "paged_attention");
        if (splits > 1)
        {
            void** b = stackalloc void*[] { &partO, &partLse, &output, &splits };
            Launch(_attentionMerge, (uint)(tokens * nh), 1, 1, (uint)HeadDim, b, "paged_attention_merge");
        }
    }

    // The decode kernel of AttentionVariant for the bf16 cache (few: at most 4 CTAs per SM and one split, for -1).
    private nint Bf16DecodeKernel(bool few) => (AttentionVariant == -1 ? (few ? 3 : 1) : AttentionVariant) switch
    {
        0 or 10 when SupportsMmaDecode => _attentionMmaT2,
        8 when SupportsMmaDecode => _attentionMma,
        9 when SupportsMmaDecode => _attentionMmaPf,
        2 => _attentionU4Pf, 3 => _attentionU2Pf, 4 => _attentionU4Lb, 5 => _attentionW4, 6 => _attentionW2Pf, 7 => _attentionW8,
        _ => _attention,
    };

    // The decode kernel of AttentionVariant for the FP8 cache.
    private nint Fp8DecodeKernel() => AttentionVariant switch
    {
        0 or 8 when SupportsMmaDecodeFp8 => _attentionMmaFp8,
        9 when SupportsMmaDecodeFp8 => _attentionMmaFp8Pf,
        10 when SupportsMmaDecodeFp8 => _attentionMmaFp8T4,
        5 => _attentionFp8W4, 6 => _attentionFp8W2Pf, 7 => _attentionFp8W8,
        _ => _attentionFp8,
    };

    /// <summary>
    /// Whether <see cref="PrefillAttention"/> can run: tensor cores (sm_80+) and a head size of 16, 32, 64 or 128
    /// (otherwise its kernel is an empty stub).
    /// </summary>
    public bool SupportsPrefillAttention { get; }

    /// <summary>Threads per CTA of the decode attention kernels (4 warps); <c>ATT_THREADS</c> in paged_attention.cu.</summary>
    public const int AttentionThreads = 128;

    /// <summary>
    /// Query rows (token × query head of one KV head's group) per CTA of <see cref="PrefillAttention"/>; <c>PF_BQ</c> in
    /// prefill_attention.cu, which asserts that it is 16 rows per warp of <see cref="PrefillThreads"/>.
    /// </summary>
    public const int PrefillTileRows = 64;

    /// <summary>Threads per CTA of <see cref="PrefillAttention"/> (4 warps); <c>PF_THREADS</c> in prefill_attention.cu.</summary>
    public const int PrefillThreads = 128;

    /// <summary>Query rows per CTA of the wide prefill kernel: two m16 tiles per warp; <c>PF_BQ_WIDE</c> in prefill_attention.cu.</summary>
    public const int WidePrefillTileRows = 2 * PrefillTileRows;

    /// <summary>Key positions per K/V tile of the prefill kernels; <c>PF_BK</c> in prefill_attention.cu.</summary>
    public const int PrefillKeyTile = 64;

    private const int FuncAttrMaxDynamicSharedBytes = 8; // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES

    /// <summary>
    /// Dynamic shared memory of one wide prefill CTA: its bf16 Q, K and V tiles, plus Q's lo part when precise
    /// (prefill_attention.cu: 64 KB fast / 96 KB precise at head size 128).
    /// </summary>
    public static int WidePrefillSharedBytes(int headDim, bool precise) =>
        ((precise ? 2 : 1) * WidePrefillTileRows + 2 * PrefillKeyTile) * headDim * sizeof(ushort);

    /// <summary>Whether the wide prefill kernel can run: <see cref="SupportsPrefillAttention"/> and enough opt-in shared memory per CTA.</summary>
    public bool SupportsWidePrefill { get; }

    /// <summary>
    /// bf16 prefill through <c>prefill_attention_wide</c>: 128-row CTAs, two m16 tiles per warp, so each K/V fragment
    /// read from shared memory feeds twice the mma work (the 64-row kernel is bound by those reads). Same inputs,
    /// outputs and precision modes; the FP8 cache keeps the 64-row kernel. Default false
    /// (<see cref="RuntimeSwitches.WidePrefill"/>, <c>PAGEDATTENTION_PREFILL_WIDE=1</c>) until it is measured on a GPU.
    /// </summary>
    public bool WidePrefill
    {
        get => _widePrefill;
        set
        {
            if (value && !SupportsWidePrefill) throw new NotSupportedException($"prefill_attention_wide needs {WidePrefillSharedBytes(HeadDim, true)} bytes of shared memory per CTA and a head size of 16-128 on sm_80+.");
            if (value && !_wideSharedOptIn)
            {
                // The wide kernel's tiles are dynamic shared memory beyond the 48 KB default: opt in once per function,
                // only when the kernel is chosen (the default path never calls into the unmeasured kernel's setup).
                CuDriver.Check(CuDriver.Fn.cuFuncSetAttribute(_prefillWide, FuncAttrMaxDynamicSharedBytes, WidePrefillSharedBytes(HeadDim, false)), "cuFuncSetAttribute(prefill_attention_wide)");
                CuDriver.Check(CuDriver.Fn.cuFuncSetAttribute(_prefillWidePrecise, FuncAttrMaxDynamicSharedBytes, WidePrefillSharedBytes(HeadDim, true)), "cuFuncSetAttribute(prefill_attention_wide_precise)");
                _wideSharedOptIn = true;
            }
            _widePrefill = value;
        }
    }

    private bool _widePrefill, _wideSharedOptIn;

    /// <summary>
    /// Causal paged attention for prefill/append steps on tensor cores (prefill_attention.cu): same inputs and output as
    /// <see cref="PagedAttention"/> (q [tokens, nh, HeadDim] fp32, out bf16), one CTA per (64 packed rows of
    /// token × group head, sequence, KV head), K/V tiles of 64 positions read once per CTA. Any mix of query lengths works
    /// (decode rows too, one mostly empty tile each); <paramref name="maxQueryLen"/> is the longest query of the step.
    /// With <paramref name="precise"/> (default) q and the probabilities are each split into bf16 hi + lo parts (2x the
    /// tensor-core work), so rows agree with <see cref="PagedAttention"/>'s fp32 math up to the bf16 output rounding;
    /// without, they are rounded to bf16 once, as in FlashAttention. <paramref name="skipDecode"/> leaves sequences with
    /// one query token to a preceding <see cref="PagedAttention"/> launch with skipPrefill. With <paramref name="fp8"/>
    /// the cache holds FP8 E4M3 codes (<c>prefill_attention_fp8</c>: widened exactly to bf16 in shared memory; the
    /// layer's K scale joins q's scale, the V scale the output).
    /// </summary>
    public void PrefillAttention(ulong q, ulong output, ulong kCache, ulong vCache, ulong queryStarts, ulong contextLens, ulong blockTables,
        int seqs, int maxQueryLen, int nh, int nkv, int blockSize, int maxBlocksPerSeq, float scale, bool precise = true, bool skipDecode = false,
        KvScales? fp8 = null)
    {
        if (!SupportsPrefillAttention) throw new NotSupportedException($"prefill_attention needs sm_80+ and head size 16, 32, 64 or 128 (got {HeadDim}).");
        if (nh != nkv * Group) throw new ArgumentException($"nh ({nh}) must be nkv ({nkv}) x {Group}, the group these kernels were compiled for.");
        ArgumentOutOfRangeException.ThrowIfNegative(maxQueryLen);
        float scaleLog2 = scale * 1.44269504088896341f;
        int prec = precise ? 1 : 0, skip = skipDecode ? 1 : 0;
        float ks = fp8?.K ?? 1f, vs = fp8?.V ?? 1f;
        void** a = stackalloc void*[] { &q, &output, &kCache, &vCache, &queryStarts, &contextLens, &blockTables, &nh, &nkv, &blockSize, &maxBlocksPerSeq, &scaleLog2, &prec, &skip, &ks, &vs };
        if (WidePrefill && fp8 is null)
        {
            uint wide = (uint)(((long)maxQueryLen * Group + WidePrefillTileRows - 1) / WidePrefillTileRows);
            Launch(precise ? _prefillWidePrecise : _prefillWide, wide, (uint)seqs, (uint)nkv, PrefillThreads, a,
                precise ? "prefill_attention_wide_precise" : "prefill_attention_wide", (uint)WidePrefillSharedBytes(HeadDim, precise));
            return;
        }
        uint tiles = (uint)(((long)maxQueryLen * Group + PrefillTileRows - 1) / PrefillTileRows);
        Launch(fp8 is not null ? _prefillFp8 : _prefill, tiles, (uint)seqs, (uint)nkv, PrefillThreads, a, fp8 is not null ? "prefill_attention_fp8" : "prefill_attention");
    }

    /// <summary>ids[r] = argmax of logits row r ([rows, vocab] fp32), lowest index on ties.</summary>
    public void Argmax(ulong logits, ulong ids, int rows, int vocab)
    {
        void** a = stackalloc void*[] { &logits, &vocab, &ids };
        Launch(_argmax, (uint)rows, 1, 1, 1024, a, "argmax_rows");
    }

    /// <summary>Most rows <see cref="Gemv"/> takes; <c>GEMV_MAX_M</c> in gemv.cu.</summary>
    public const int GemvMaxRows = 4;

    /// <summary>Threads per CTA of <see cref="Gemv"/> (one warp per output column); <c>GEMV_THREADS</c> in gemv.cu.</summary>
    public const int GemvThreads = 256;

    /// <summary>
    /// y [m, n] fp32 = x [m, k] bf16 · wᵀ, w [n, k] bf16, for m ≤ <see cref="GemvMaxRows"/> and k a multiple of 8: one
    /// warp per output column, the weights read once (the batch-1 decode path instead of cuBLAS).
    /// </summary>
    public void Gemv(ulong x, ulong w, ulong y, int m, int n, int k)
    {
        if (m is < 1 or > GemvMaxRows) throw new ArgumentOutOfRangeException(nameof(m));
        if (k % 8 != 0) throw new ArgumentException("k must be a multiple of 8.", nameof(k));
        void** a = stackalloc void*[] { &x, &w, &y, &m, &n, &k };
        const int columnsPerCta = GemvThreads / 32;
        Launch(_gemv, (uint)((n + columnsPerCta - 1) / columnsPerCta), 1, 1, GemvThreads, a, "gemv_bf16");
    }

    /// <summary>
    /// Bytes of one row's parameters for <see cref="SampleRows"/>; <c>SAMPLE_ROW_BYTES</c> in sampling.cu, which asserts
    /// that its SampleRow struct has this size.
    /// </summary>
    public const int SampleRowBytes = 48;

    /// <summary>Threads per CTA of <see cref="SampleRows"/>; <c>SAMPLE_THREADS</c> in sampling.cu.</summary>
    public const int SampleThreads = 1024;

    /// <summary>
    /// Applies repetition/frequency/presence penalties and min-tokens masking in place: <paramref name="entries"/> is
    /// int4 [count] of (row, token, output count, flags: 1 = seen, 2 = mask), distinct per row; <paramref name="rows"/>
    /// holds each row's <see cref="SampleRowBytes"/>-byte parameters.
    /// </summary>
    public void ApplyPenalties(ulong logits, int vocab, ulong rows, ulong entries, int count)
    {
        void** a = stackalloc void*[] { &logits, &vocab, &rows, &entries, &count };
        Launch(_penalties, (uint)((count + 255) / 256), 1, 1, 256, a, "apply_penalties");
    }

    /// <summary>
    /// The id <see cref="SampleRows"/> writes for a constrained row whose mask leaves no finite logit (a grammar bug or
    /// a dead end): never a token, so the host fails that request instead of emitting one. <c>EMPTY_MASK_TOKEN</c> in
    /// sampling.cu.
    /// </summary>
    public const int EmptyMaskToken = -2;

    /// <summary>
    /// ids[r] = a token of row r: argmax when its temperature is below 1e-5, else a draw after top-k, min-p and top-p
    /// (Gumbel-max with Philox keyed by the row's key and step). <paramref name="logits"/> is read only. A row whose
    /// parameters name a mask row reads that row of <paramref name="masks"/> (<paramref name="maskWords"/> 32-bit words
    /// each, LSB-first, 1 = allowed) and samples among the allowed tokens only; <paramref name="masks"/> may be 0 when
    /// no row is constrained.
    /// </summary>
    public void SampleRows(ulong logits, int vocab, ulong rows, ulong masks, int maskWords, ulong ids, int count)
    {
        void** a = stackalloc void*[] { &logits, &vocab, &rows, &masks, &maskWords, &ids };
        Launch(_sample, (uint)count, 1, 1, SampleThreads, a, "sample_rows");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_module == 0) return;
        if (!_device.IsDisposed) { _device.MakeCurrent(); CuDriver.Fn.cuModuleUnload(_module); }
        _module = 0;
    }
}
