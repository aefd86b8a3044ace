// Tiled prefill/append attention over the paged KV cache on tensor cores (FlashAttention-2 style, mma.sync m16n8k16
// bf16 with fp32 accumulation, ldmatrix fragments, cp.async K/V tiles).
// One CTA per (64-row tile of packed query rows, sequence, KV head). Packed row r of a sequence is query token r / GROUP,
// query head kvh * GROUP + r % GROUP (FlashInfer's GQA packing): all GROUP heads sharing a KV head are rows of the same
// tile, so each K/V tile is read from the cache once per CTA. 4 warps, 16 rows each. Keys go by tiles of 64 positions
// through the block table (any block size; positions past the causal limit are zero-filled and masked).
// Row of token i sees keys [0, ctx - qlen + i + 1); KV tiles past the tile's last row's limit are skipped.
// q: [n, nh, HEAD_DIM] fp32 (unscaled); cache: [num_blocks, nkv, block_size, HEAD_DIM] bf16 (E4M3 codes for
// prefill_attention_fp8); out: [n, nh * HEAD_DIM] bf16.
// scale_log2 = softmax scale * log2(e): q is rounded to bf16 after scaling and the softmax runs in base 2.
// Pipeline (one K and one V buffer): K[j+1] loads while the softmax and P.V of tile j run, V[j+1] while S[j+1] runs.
// precise != 0: q and P are each split into bf16 hi + lo parts and multiplied twice (2x the mma work), which makes the
// result agree with the fp32 decode kernel to about fp32 accuracy (bf16 output rounding aside). skip_decode != 0:
// sequences with one query token are left to paged_attention (mixed steps stay batch-invariant for decode rows).
// Needs sm_80+ and HEAD_DIM a multiple of 16, at most 128 (48 KB of static shared memory); otherwise the kernel is an
// empty stub and the host uses paged_attention.
// prefill_attention_wide: the same kernel with 32 rows per warp (two m16 tiles, 128-row CTAs), so that every K and V
// fragment loaded from shared memory feeds twice the mma work -- the 64-row kernel is bound by ldmatrix traffic (its
// precise mode, with 2x the mma work over the same fragments, costs only ~13 % more time). Two m-tiles of q fragments do
// not fit in registers beside the 2x larger O and S accumulators, so q (hi and, when precise, lo) is re-read from shared
// memory per K tile, as FlashAttention-2 does. Shared memory is dynamic: (PF_BQ_WIDE + 2 * PF_BK) * HEAD_DIM bf16, plus
// PF_BQ_WIDE * HEAD_DIM for q's lo part when precise (64 / 96 KB at HEAD_DIM 128).
#ifndef HEAD_DIM
#error "HEAD_DIM (elements per head) is not defined: the host passes it (-DHEAD_DIM=..., CudaKernelSources.Defines)"
#endif
#ifndef GROUP
#error "GROUP (query heads per KV head) is not defined: the host passes it (-DGROUP=..., CudaKernelSources.Defines)"
#endif
#ifndef PF_THREADS
#error "PF_THREADS (threads per CTA, CudaKernels.PrefillThreads) is not defined: the host passes it (-DPF_THREADS=..., CudaKernelSources.Defines)"
#endif
#ifndef PF_BQ
#error "PF_BQ (packed query rows per CTA, CudaKernels.PrefillTileRows) is not defined: the host passes it (-DPF_BQ=..., CudaKernelSources.Defines)"
#endif
static_assert(PF_THREADS % 32 == 0 && PF_THREADS / 32 * 16 == PF_BQ, "each warp owns 16 rows of the PF_BQ-row Q tile");
#ifndef PF_BK
#error "PF_BK (key positions per K/V tile, CudaKernels.PrefillKeyTile) is not defined: the host passes it (-DPF_BK=..., CudaKernelSources.Defines)"
#endif
static_assert(PF_BK % 16 == 0, "K/V tiles are whole 16-key mma steps");
#define PF_BQ_WIDE (2 * PF_BQ) // rows per CTA of prefill_attention_wide (CudaKernels.WidePrefillTileRows)
#define PF_CH (HEAD_DIM / 8)
#define PF_SWZ ((PF_CH < 8 ? PF_CH : 8) - 1)

#if HEAD_DIM % 16 == 0 && HEAD_DIM <= 128 && (!defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800)
#define PF_ENABLED 1
#else
#define PF_ENABLED 0
#endif

#if PF_ENABLED
extern __shared__ __align__(128) bf16 pf_dynamic_smem[]; // prefill_attention_wide's tiles

__device__ __forceinline__ unsigned pf_smem(const void* p)
{
    unsigned r;
    asm volatile("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(r) : "l"(p));
    return r;
}

// Element offset of 16-byte chunk `chunk` of row `row` in a [rows, HEAD_DIM] tile, chunks XOR-swizzled by the row so
// that ldmatrix's 8 row addresses hit different banks.
__device__ __forceinline__ int pf_off(int row, int chunk) { return row * HEAD_DIM + ((chunk ^ (row & PF_SWZ)) << 3); }

// Byte offset of 16-byte chunk 2 * c2 + b of a row, 2 * pf_off(row, 2 * c2 + b), from lane_off = 2 * pf_off(row, b):
// the swizzle XORs the chunk with row & PF_SWZ and a chunk index below PF_CH never reaches the row's bits, so the pair
// index enters by one XOR with a constant. The wide kernel computes its ldmatrix addresses this way: one register per
// operand instead of one per k-step, which it would otherwise keep live across the KV loop.
__device__ __forceinline__ unsigned pf_pair(unsigned lane_off, int c2) { return lane_off ^ ((unsigned)c2 << 5); }

__device__ __forceinline__ void pf_cp16(unsigned dst, const void* src, bool pred)
{
    int n = pred ? 16 : 0; // src-size 0: the 16 bytes are zero-filled
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n) : "memory");
}
__device__ __forceinline__ void pf_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void pf_wait1() { asm volatile("cp.async.wait_group 1;\n" ::: "memory"); }

__device__ __forceinline__ void pf_ldsm(unsigned addr, unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr) : "memory");
}
__device__ __forceinline__ void pf_ldsm_t(unsigned addr, unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr) : "memory");
}
#endif

#if PF_ENABLED
// FP8 E4M3 cache (prefill_attention_fp8): a thread's share of a K/V tile, PF_NCH chunks of 8 codes (8 bytes) each.
#define PF_NCH (PF_BK * PF_CH / PF_THREADS)
static_assert(PF_BK * PF_CH % PF_THREADS == 0, "a K/V tile is whole 8-element chunks per thread");
// Two E4M3 codes (low byte first) -> bf16x2, exactly (an E4M3 value has 3 mantissa bits; e4m3f is exact).
__device__ __forceinline__ unsigned pf_e4m3x2(unsigned c2)
{
    return (__float_as_uint(e4m3f(c2 & 0xffu)) >> 16) | (__float_as_uint(e4m3f((c2 >> 8) & 0xffu)) & 0xffff0000u);
}
#endif

// T: the cache element, bf16 or (FP8) an E4M3 code. With FP8 the K/V tiles cannot go by cp.async (shared memory holds
// bf16 for ldmatrix and mma): each thread loads its codes into registers where the bf16 kernel issues its cp.async
// (K[j+1] after S of tile j, V[j+1] after P.V of tile j), widens them exactly to bf16 and stores them into the same
// swizzled tiles just before they are needed, so the loads still overlap the math. The layer's k_scale multiplies q
// (before its bf16 rounding), v_scale the output.
// MT: m16 tiles per warp (1: PF_BQ rows per CTA in static shared memory, q fragments held in registers; 2: the wide
// kernel, 2 * PF_BQ rows in dynamic shared memory, q fragments re-read per K tile).
template <typename T, bool FP8, int MT>
__device__ __forceinline__ void prefill_attention_body(
    const float* __restrict__ q, bf16* __restrict__ out, const T* __restrict__ k_cache, const T* __restrict__ v_cache,
    const int* __restrict__ query_starts, const int* __restrict__ context_lens, const int* __restrict__ block_tables,
    int nh, int nkv, int block_size, int max_blocks_per_seq, float scale_log2, int precise, int skip_decode,
    float k_scale, float v_scale)
{
#if PF_ENABLED
    static_assert(MT == 1 || MT == 2, "one or two m16 tiles per warp");
    constexpr int BQ = PF_BQ * MT, WR = 16 * MT; // rows per CTA, rows per warp
    bf16 *sq, *sk, *sv, *sql; // Q (hi), K, V tiles; q's lo part (precise): sq itself when MT == 1, its own tile else
    if constexpr (MT == 1)
    {
        __shared__ __align__(128) bf16 sq1[PF_BQ * HEAD_DIM];
        __shared__ __align__(128) bf16 sk1[PF_BK * HEAD_DIM];
        __shared__ __align__(128) bf16 sv1[PF_BK * HEAD_DIM];
        sq = sq1; sk = sk1; sv = sv1; sql = sq1;
    }
    else
    {
        sq = pf_dynamic_smem; sk = sq + BQ * HEAD_DIM; sv = sk + PF_BK * HEAD_DIM; sql = sv + PF_BK * HEAD_DIM;
    }
    const int s = blockIdx.y, kvh = blockIdx.z;
    const int r0 = (gridDim.x - 1 - blockIdx.x) * BQ; // the longest (last) tiles start first
    const int q0 = query_starts[s], qlen = query_starts[s + 1] - q0, rows = qlen * GROUP;
    if (r0 >= rows || (skip_decode && qlen == 1)) return;
    const int prefix = context_lens[s] - qlen; // cached keys before the first query token
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
    const int* table = block_tables + (long long)s * max_blocks_per_seq;
    const int last_row = min(rows, r0 + BQ) - 1;
    const int kv_end = prefix + last_row / GROUP + 1;                               // keys the tile's last row sees
    const int mask_from = r0 + BQ <= rows ? prefix + r0 / GROUP + 1 : 0;             // keys every row of the tile sees
    const int ntiles = (kv_end + PF_BK - 1) / PF_BK;
    const float scale_q = FP8 ? scale_log2 * k_scale : scale_log2;

    // Q tile: fp32 -> bf16 (scaled), swizzled; rows past the sequence are zero. pass 0 writes bf16(x); pass 1 (precise
    // mode) writes the remainder bf16(x - bf16(x)), so that Q = hi + lo to about 16 bits.
#define PF_LOAD_Q(dst, pass)                                                                                            \
    for (int e = tid; e < BQ * PF_CH; e += PF_THREADS)                                                                  \
    {                                                                                                                   \
        const int r = e / PF_CH, c = e % PF_CH, pr = r0 + r;                                                            \
        uint4 w;                                                                                                        \
        w.x = w.y = w.z = w.w = 0u;                                                                                     \
        if (pr < rows)                                                                                                  \
        {                                                                                                               \
            const float4* src = (const float4*)(q + ((long long)(q0 + pr / GROUP) * nh + kvh * GROUP + pr % GROUP) * HEAD_DIM + c * 8); \
            float4 a = src[0], b = src[1];                                                                              \
            float x[8] = { a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w };                                                    \
            unsigned u[4];                                                                                              \
            for (int i = 0; i < 4; i++)                                                               \
            {                                                                                                           \
                float x0 = x[2 * i] * scale_q, x1 = x[2 * i + 1] * scale_q;                                             \
                unsigned hi = pack_bf16x2(x0, x1);                                                                          \
                u[i] = (pass) == 0 ? hi : pack_bf16x2(x0 - __uint_as_float(hi << 16), x1 - __uint_as_float(hi & 0xffff0000u)); \
            }                                                                                                           \
            w.x = u[0]; w.y = u[1]; w.z = u[2]; w.w = u[3];                                                             \
        }                                                                                                               \
        *(uint4*)((dst) + pf_off(r, c)) = w;                                                                            \
    }
    PF_LOAD_Q(sq, 0)
    if constexpr (MT > 1) { if (precise) { PF_LOAD_Q(sql, 1) } }

    // 16-byte chunks of a 64-position tile, gathered through the block table; positions >= kv_end are zero-filled.
    const unsigned sk0 = pf_smem(sk), sv0 = pf_smem(sv);
#define PF_LOAD(dst0, cache, kv0)                                                                                       \
    for (int e = tid; e < PF_BK * PF_CH; e += PF_THREADS)                                                               \
    {                                                                                                                   \
        const int r = e / PF_CH, c = e % PF_CH, p = (kv0) + r;                                                          \
        const bool ok = p < kv_end;                                                                                     \
        const bf16* src = cache;                                                                                        \
        if (ok) src = cache + (((long long)table[p / block_size] * nkv + kvh) * block_size + p % block_size) * HEAD_DIM + c * 8; \
        pf_cp16((dst0) + 2u * pf_off(r, c), src, ok);                                                                   \
    }

    // FP8: a thread's chunks of a tile by 8-byte loads into registers (zero past kv_end), then widened into the tile.
#define PF_FETCH(regs, cache, kv0)                                                                                      \
    _Pragma("unroll") for (int i = 0; i < PF_NCH; i++)                                                                  \
    {                                                                                                                   \
        const int e = tid + i * PF_THREADS, r = e / PF_CH, c = e % PF_CH, p = (kv0) + r;                                \
        regs[i] = p < kv_end ? *(const uint2*)(cache + (((long long)table[p / block_size] * nkv + kvh) * block_size + p % block_size) * HEAD_DIM + c * 8) \
                             : make_uint2(0u, 0u);                                                                      \
    }
#define PF_STORE(dst, regs)                                                                                             \
    _Pragma("unroll") for (int i = 0; i < PF_NCH; i++)                                                                  \
    {                                                                                                                   \
        const int e = tid + i * PF_THREADS, r = e / PF_CH, c = e % PF_CH;                                               \
        *(uint4*)((dst) + pf_off(r, c)) = make_uint4(pf_e4m3x2(regs[i].x), pf_e4m3x2(regs[i].x >> 16),                  \
                                                     pf_e4m3x2(regs[i].y), pf_e4m3x2(regs[i].y >> 16));                 \
    }
    uint2 kreg[FP8 ? PF_NCH : 1], vreg[FP8 ? PF_NCH : 1];
    if constexpr (FP8)
    {
        PF_FETCH(kreg, k_cache, 0)
        PF_FETCH(vreg, v_cache, 0)
    }
    else
    {
        PF_LOAD(sk0, k_cache, 0)
        pf_commit();
        PF_LOAD(sv0, v_cache, 0)
        pf_commit();
    }
    __syncthreads(); // Q tile written

    unsigned qf[MT == 1 ? HEAD_DIM / 16 : 1][4]; // MT == 1: this warp's q (hi) fragments, held for the whole loop
    const unsigned sq0 = pf_smem(sq), sql0 = MT == 1 ? sq0 : pf_smem(sql);
    if constexpr (MT == 1)
    {
#pragma unroll
        for (int kk = 0; kk < HEAD_DIM / 16; kk++)
            pf_ldsm(sq0 + 2u * pf_off(warp * 16 + (lane & 15), kk * 2 + (lane >> 4)), qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3]);
        if (precise)
        {
            __syncthreads(); // every warp holds its hi fragments; sq now takes the lo part (read from shared memory per tile)
            PF_LOAD_Q(sq, 1)
        } // made visible by the first __syncthreads of the loop
    }
#undef PF_LOAD_Q

    // This thread's rows: warp * 16 + g and + 8. Row limit: keys [0, lim) are visible; rows past the sequence see none.
    int lim[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int h = 0; h < 2; h++)
        {
            const int pr = r0 + warp * WR + mt * 16 + g + h * 8;
            lim[mt][h] = pr < rows ? prefix + pr / GROUP + 1 : 0;
        }

    float o[MT][HEAD_DIM / 8][4];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int i = 0; i < HEAD_DIM / 8; i++) o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.f;
    float m[MT][2], l[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) { m[mt][0] = m[mt][1] = neg_inf(); l[mt][0] = l[mt][1] = 0.f; }
    const int mi = lane >> 3;
    // Wide kernel: this lane's ldmatrix offsets (pf_pair) into the Q, K and V tiles.
    // (Computed only there: the shared subexpressions moved the 64-row kernel's own address arithmetic.)
    unsigned qoff = 0, koff = 0, voff = 0;
    if constexpr (MT > 1)
    {
        qoff = 2u * pf_off(warp * WR + (lane & 15), lane >> 4);
        koff = 2u * pf_off((mi >> 1) * 8 + (lane & 7), mi & 1);
        voff = 2u * pf_off((mi & 1) * 8 + (lane & 7), mi >> 1);
    }

    for (int j = 0; j < ntiles; j++)
    {
        const int kv0 = j * PF_BK;
        if constexpr (FP8) { PF_STORE(sk, kreg) } // sk is free: every warp passed the barrier after S of tile j - 1
        else pf_wait1(); // K[j] landed (V[j] may still be in flight)
        __syncthreads();
        float sc[MT][PF_BK / 8][4];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int i = 0; i < PF_BK / 8; i++) sc[mt][i][0] = sc[mt][i][1] = sc[mt][i][2] = sc[mt][i][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < HEAD_DIM / 16; kk++)
        {
            unsigned qa[MT][4], ql[MT][4]; // q's hi and lo fragments of each m-tile for this k-step
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
            {
                // (The address is spelled out in each branch: a shared variable is hoisted out of the loop for every
                // kk, 8 more live registers in the MT == 1 kernel.)
                if constexpr (MT == 1) { qa[mt][0] = qf[kk][0]; qa[mt][1] = qf[kk][1]; qa[mt][2] = qf[kk][2]; qa[mt][3] = qf[kk][3]; }
                else pf_ldsm(sq0 + pf_pair(qoff, kk) + mt * 32 * HEAD_DIM, qa[mt][0], qa[mt][1], qa[mt][2], qa[mt][3]);
                if (precise)
                {
                    if constexpr (MT == 1) pf_ldsm(sql0 + 2u * pf_off(warp * 16 + (lane & 15), kk * 2 + (lane >> 4)), ql[mt][0], ql[mt][1], ql[mt][2], ql[mt][3]);
                    else pf_ldsm(sql0 + pf_pair(qoff, kk) + mt * 32 * HEAD_DIM, ql[mt][0], ql[mt][1], ql[mt][2], ql[mt][3]);
                }
            }
#pragma unroll
            for (int nn = 0; nn < PF_BK / 16; nn++)
            {
                // Each K fragment is loaded once and serves every m-tile's hi and (when precise) lo part of q.
                unsigned b0, b1, b2, b3;
                if constexpr (MT == 1) pf_ldsm(sk0 + 2u * pf_off(nn * 16 + (mi >> 1) * 8 + (lane & 7), kk * 2 + (mi & 1)), b0, b1, b2, b3);
                else pf_ldsm(sk0 + pf_pair(koff, kk) + nn * 32 * HEAD_DIM, b0, b1, b2, b3);
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
                {
                    mma_bf16(sc[mt][2 * nn], qa[mt], b0, b1);
                    mma_bf16(sc[mt][2 * nn + 1], qa[mt], b2, b3);
                    if (precise)
                    {
                        mma_bf16(sc[mt][2 * nn], ql[mt], b0, b1);
                        mma_bf16(sc[mt][2 * nn + 1], ql[mt], b2, b3);
                    }
                }
            }
        }
        __syncthreads(); // every warp is done with K[j]
        if constexpr (FP8) { if (j + 1 < ntiles) { PF_FETCH(kreg, k_cache, kv0 + PF_BK) } }
        else
        {
            if (j + 1 < ntiles) { PF_LOAD(sk0, k_cache, kv0 + PF_BK) }
            pf_commit();
        }

        if (kv0 + PF_BK > mask_from)
        {
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int nt = 0; nt < PF_BK / 8; nt++)
#pragma unroll
                    for (int e = 0; e < 4; e++)
                        if (kv0 + nt * 8 + t4 * 2 + (e & 1) >= lim[mt][e >> 1]) sc[mt][nt][e] = neg_inf();
        }
        // Online softmax (base 2); l holds this thread's partial row sums, reduced over the quad at the end.
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int h = 0; h < 2; h++)
            {
                float mx = m[mt][h];
#pragma unroll
                for (int nt = 0; nt < PF_BK / 8; nt++) mx = fmaxf(mx, fmaxf(sc[mt][nt][2 * h], sc[mt][nt][2 * h + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float base = mx == neg_inf() ? 0.f : mx;
                const float corr = ex2_approx(m[mt][h] - base);
                m[mt][h] = mx;
                float sum = 0.f;
#pragma unroll
                for (int nt = 0; nt < PF_BK / 8; nt++)
                {
                    sc[mt][nt][2 * h] = ex2_approx(sc[mt][nt][2 * h] - base);
                    sc[mt][nt][2 * h + 1] = ex2_approx(sc[mt][nt][2 * h + 1] - base);
                    sum += sc[mt][nt][2 * h] + sc[mt][nt][2 * h + 1];
                }
                l[mt][h] = l[mt][h] * corr + sum;
#pragma unroll
                for (int dn = 0; dn < HEAD_DIM / 8; dn++) { o[mt][dn][2 * h] *= corr; o[mt][dn][2 * h + 1] *= corr; }
            }

        // Wide kernel: P goes to its bf16 fragments (hi and, when precise, lo) before the barrier, so the fp32 scores are
        // dead while P.V runs (32 registers in fast mode that this kernel needs for the O accumulators).
        unsigned ph[MT > 1 ? MT : 1][PF_BK / 16][4], pl[MT > 1 ? MT : 1][PF_BK / 16][4];
        if constexpr (MT > 1)
        {
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int kk = 0; kk < PF_BK / 16; kk++)
#pragma unroll
                    for (int i = 0; i < 4; i++)
                    {
                        // a0..a3 of the m16n8k16 A fragment: (row g, keys 16kk + 2t4), (row g + 8, same), then keys + 8.
                        const float x0 = sc[mt][2 * kk + (i >> 1)][2 * (i & 1)], x1 = sc[mt][2 * kk + (i >> 1)][2 * (i & 1) + 1];
                        ph[mt][kk][i] = pack_bf16x2(x0, x1);
                        if (precise) pl[mt][kk][i] = pack_bf16x2(x0 - __uint_as_float(ph[mt][kk][i] << 16), x1 - __uint_as_float(ph[mt][kk][i] & 0xffff0000u));
                    }
        }
        if constexpr (FP8) { PF_STORE(sv, vreg) } // sv is free: every warp passed the barrier after P.V of tile j - 1
        else pf_wait1(); // V[j] landed (K[j+1] may still be in flight)
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < PF_BK / 16; kk++)
        {
            unsigned a[MT][4], al[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
            {
                if constexpr (MT > 1)
                {
#pragma unroll
                    for (int i = 0; i < 4; i++) { a[mt][i] = ph[mt][kk][i]; al[mt][i] = pl[mt][kk][i]; }
                    continue;
                }
                const float (*p)[4] = sc[mt];
                a[mt][0] = pack_bf16x2(p[2 * kk][0], p[2 * kk][1]);
                a[mt][1] = pack_bf16x2(p[2 * kk][2], p[2 * kk][3]);
                a[mt][2] = pack_bf16x2(p[2 * kk + 1][0], p[2 * kk + 1][1]);
                a[mt][3] = pack_bf16x2(p[2 * kk + 1][2], p[2 * kk + 1][3]);
                if (precise)
                {
                    // P = hi + lo: the part of each probability that bf16 rounding dropped.
                    al[mt][0] = pack_bf16x2(p[2 * kk][0] - __uint_as_float(a[mt][0] << 16), p[2 * kk][1] - __uint_as_float(a[mt][0] & 0xffff0000u));
                    al[mt][1] = pack_bf16x2(p[2 * kk][2] - __uint_as_float(a[mt][1] << 16), p[2 * kk][3] - __uint_as_float(a[mt][1] & 0xffff0000u));
                    al[mt][2] = pack_bf16x2(p[2 * kk + 1][0] - __uint_as_float(a[mt][2] << 16), p[2 * kk + 1][1] - __uint_as_float(a[mt][2] & 0xffff0000u));
                    al[mt][3] = pack_bf16x2(p[2 * kk + 1][2] - __uint_as_float(a[mt][3] << 16), p[2 * kk + 1][3] - __uint_as_float(a[mt][3] & 0xffff0000u));
                }
            }
#pragma unroll
            for (int dn = 0; dn < HEAD_DIM / 16; dn++)
            {
                // Each V fragment is loaded once and serves every m-tile's hi and (when precise) lo part of P.
                unsigned b0, b1, b2, b3;
                if constexpr (MT == 1) pf_ldsm_t(sv0 + 2u * pf_off(kk * 16 + (mi & 1) * 8 + (lane & 7), dn * 2 + (mi >> 1)), b0, b1, b2, b3);
                else pf_ldsm_t(sv0 + pf_pair(voff, dn) + kk * 32 * HEAD_DIM, b0, b1, b2, b3);
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
                {
                    mma_bf16(o[mt][2 * dn], a[mt], b0, b1);
                    mma_bf16(o[mt][2 * dn + 1], a[mt], b2, b3);
                    if (precise)
                    {
                        mma_bf16(o[mt][2 * dn], al[mt], b0, b1);
                        mma_bf16(o[mt][2 * dn + 1], al[mt], b2, b3);
                    }
                }
            }
        }
        __syncthreads(); // every warp is done with V[j]
        if constexpr (FP8) { if (j + 1 < ntiles) { PF_FETCH(vreg, v_cache, kv0 + PF_BK) } }
        else
        {
            if (j + 1 < ntiles) { PF_LOAD(sv0, v_cache, kv0 + PF_BK) }
            pf_commit();
        }
    }
#undef PF_LOAD
#undef PF_FETCH
#undef PF_STORE

#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int h = 0; h < 2; h++)
        {
            float sum = l[mt][h];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            const int pr = r0 + warp * WR + mt * 16 + g + h * 8;
            if (pr >= rows) continue;
            const float inv = FP8 ? (sum > 0.f ? 1.f / sum : 0.f) * v_scale : (sum > 0.f ? 1.f / sum : 0.f);
            bf16* dst = out + ((long long)(q0 + pr / GROUP) * nh + kvh * GROUP + pr % GROUP) * HEAD_DIM + t4 * 2;
#pragma unroll
            for (int dn = 0; dn < HEAD_DIM / 8; dn++) *(unsigned*)(dst + dn * 8) = pack_bf16x2(o[mt][dn][2 * h] * inv, o[mt][dn][2 * h + 1] * inv);
        }
#endif
}

#define PF_PARAMS(T) const float* __restrict__ q, bf16* __restrict__ out, const T* __restrict__ k_cache,                 \
    const T* __restrict__ v_cache, const int* __restrict__ query_starts, const int* __restrict__ context_lens,          \
    const int* __restrict__ block_tables, int nh, int nkv, int block_size, int max_blocks_per_seq, float scale_log2,    \
    int precise, int skip_decode
#define PF_ARGS q, out, k_cache, v_cache, query_starts, context_lens, block_tables, nh, nkv, block_size, max_blocks_per_seq, \
    scale_log2, precise, skip_decode

extern "C" __global__ void __launch_bounds__(PF_THREADS) prefill_attention(PF_PARAMS(bf16))
{
    pdl_begin();
    prefill_attention_body<bf16, false, 1>(PF_ARGS, 1.f, 1.f);
}

// 128-row CTAs, two m16 tiles per warp, dynamic shared memory (see the top of the file; CudaKernels.WidePrefill). The
// precision is fixed per kernel (the argument is ignored): a run-time flag costs registers that this kernel lacks.
#define PF_ARGS_PRECISION(p) q, out, k_cache, v_cache, query_starts, context_lens, block_tables, nh, nkv, block_size,     \
    max_blocks_per_seq, scale_log2, p, skip_decode
extern "C" __global__ void __launch_bounds__(PF_THREADS) prefill_attention_wide(PF_PARAMS(bf16))
{
    pdl_begin();
    prefill_attention_body<bf16, false, 2>(PF_ARGS_PRECISION(0), 1.f, 1.f);
}
extern "C" __global__ void __launch_bounds__(PF_THREADS) prefill_attention_wide_precise(PF_PARAMS(bf16))
{
    pdl_begin();
    prefill_attention_body<bf16, false, 2>(PF_ARGS_PRECISION(1), 1.f, 1.f);
}

// The FP8 E4M3 KV cache's prefill kernel (same layout, one byte per element; the layer's K/V scales).
extern "C" __global__ void __launch_bounds__(PF_THREADS) prefill_attention_fp8(PF_PARAMS(unsigned char), float k_scale, float v_scale)
{
    pdl_begin();
    prefill_attention_body<unsigned char, true, 1>(PF_ARGS, k_scale, v_scale);
}
