// Decode attention for GQA on tensor cores (paged_attention_mma*: CudaKernels.AttentionVariant 0, the default where
// supported, and 8-10): the same
// arguments, grid and result as paged_attention (one CTA of ATT_THREADS per query token, KV head and KV split; splits
// merged by paged_attention_merge), but the dot products and the P.V sums run as m16n8k16 mma.sync instead of per-lane
// FMAs and shuffles, which is what bounds the CUDA-core kernel on FP8 codes (docs/cuda.md, "FP8 KV cache").
//
// Each warp streams its own tiles of 16 keys (NT per iteration; the CTA's warps take every ATT_WARPS-th tile) and keeps
// an online softmax; the warps merge through shared memory at the end. The products are computed transposed, keys and
// dims as the mma's 16 rows and the GROUP query heads of the KV head as its 8 columns (columns past GROUP are zero):
// S^T = K.Q^T, then O^T = V^T.P^T. At GROUP 4 half the columns are idle, which costs little: the kernel is bound by
// memory and instruction issue, not by tensor-core throughput, and the accumulators take 4 registers per 16 dims.
//
// The fragments are loaded straight from global memory, without shared memory or ldmatrix, by permuting the head
// dimension (a dot product or a weighted sum does not depend on the order of its terms):
// - S^T = K.Q^T: lane (g = lane / 4, t4 = lane % 4) loads keys g and g + 8 of the tile, dims [DK t4, DK t4 + DK)
//   (DK = HEAD_DIM / 4), contiguous. In k16 slice sl its A registers hold dims DK t4 + 4 sl + {0,1} and + {2,3};
//   Q's B fragment (built once from fp32 q) places the same dims at the same k positions. bf16 keys need no
//   shuffling at all.
// - O^T = V^T.P^T: the mma sums over keys, and V is stored by key, so some transposition is unavoidable. Row r of
//   m16 tile mt is dim DV (r % 8) + 2 mt + r / 8 (DV = HEAD_DIM / 8): lane (g, t4) then needs dims [DV g, DV g + DV)
//   of keys 2t4, 2t4 + 1, 2t4 + 8 and 2t4 + 9, four contiguous loads, and pairs two keys' values at one dim in a
//   register with one byte permute (prmt) per A register. P^T's B fragment is the scores' C fragment transposed by
//   movmatrix (two per 16 keys).
// The FP8 E4M3 cache (paged_attention_mma_fp8*) uses f16 mma: every E4M3 code widens exactly to f16, two per
// cvt.rn.f16x2.e4m3x2 (sm_89+; the FP8 kernels are empty stubs before that, CudaKernels.SupportsMmaDecodeFp8). q is scaled
// (softmax scale, log2 e) and rounded once to bf16 (bf16 cache) or f16 (FP8 cache, clamped to the f16 range; the
// layer's K scale multiplies the fp32 scores), and so are the probabilities before P.V: the rounding FlashAttention
// and FlashInfer's tensor-core decode make. Accumulation is fp32.
// Needs sm_80+, HEAD_DIM 64 or 128 and GROUP <= 8 (CudaKernels.SupportsMmaDecode); otherwise an empty stub.
#ifndef HEAD_DIM
#error "HEAD_DIM (elements per head) is not defined: the host passes it (-DHEAD_DIM=..., CudaKernelSources.Defines)"
#endif
#ifndef GROUP
#error "GROUP (query heads per KV head) is not defined: the host passes it (-DGROUP=..., CudaKernelSources.Defines)"
#endif
#ifndef ATT_THREADS
#error "ATT_THREADS (threads per CTA of the decode kernels, CudaKernels.AttentionThreads) is not defined: the host passes it (-DATT_THREADS=..., CudaKernelSources.Defines)"
#endif

#if (HEAD_DIM == 64 || HEAD_DIM == 128) && GROUP <= 8 && (!defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800)
#define DM_ENABLED 1
#else
#define DM_ENABLED 0
#endif
#if DM_ENABLED && (!defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 890)
#define DM_FP8_ENABLED 1
#else
#define DM_FP8_ENABLED 0
#endif

#define DM_WARPS (ATT_THREADS / 32)
#define DM_DK (HEAD_DIM / 4) // dims of one key a lane holds for Q.K
#define DM_DV (HEAD_DIM / 8) // dims of one key a lane holds for P.V
#define DM_NS (HEAD_DIM / 16) // k16 slices of Q.K
#define DM_NM (HEAD_DIM / 16) // m16 tiles (of dims) of O^T

#if DM_ENABLED
// An 8x8 matrix of b16 pairs, transposed across the warp (lane l holds row l / 4, columns 2 (l % 4) and + 1).
__device__ __forceinline__ unsigned dm_trans(unsigned x)
{
    unsigned r;
    asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;" : "=r"(r) : "r"(x));
    return r;
}

__device__ __forceinline__ unsigned dm_prmt(unsigned a, unsigned b, unsigned sel)
{
    unsigned r;
    asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
    return r;
}

// bf16 cache: KW / VW words per lane and key for Q.K / P.V.
struct DmBf16
{
    typedef bf16 T;
    static constexpr bool fp8 = false;
    static constexpr int KW = DM_DK / 2, VW = DM_DV / 2;
    __device__ __forceinline__ static unsigned pack(float lo, float hi) { return pack_bf16x2(lo, hi); }
    __device__ __forceinline__ static void mma(float* d, const unsigned* a, unsigned b0, unsigned b1) { mma_bf16(d, a, b0, b1); }
    // The two A registers of k16 slice s from a key's KW words: dims 4s, 4s + 1 and 4s + 2, 4s + 3 of the lane's share.
    __device__ __forceinline__ static void kfrag(const unsigned* w, int s, unsigned& lo, unsigned& hi) { lo = w[2 * s]; hi = w[2 * s + 1]; }
    // V^T's A registers from two keys a and b (adjacent k): out[i] = (a[dim i], b[dim i]) over the lane's DV dims, so
    // out[2 mt] and out[2 mt + 1] are rows g and g + 8 of m16 tile mt.
    __device__ __forceinline__ static void vfrag(const unsigned* a, const unsigned* b, unsigned* out)
    {
#pragma unroll
        for (int i = 0; i < VW; i++) { out[2 * i] = dm_prmt(a[i], b[i], 0x5410u); out[2 * i + 1] = dm_prmt(a[i], b[i], 0x7632u); }
    }
};

// FP8 E4M3 cache, widened to f16.
struct DmFp8
{
    typedef unsigned char T;
    static constexpr bool fp8 = true;
    static constexpr int KW = DM_DK / 4, VW = DM_DV / 4;
    __device__ __forceinline__ static unsigned cvt2(unsigned short c2)
    {
        unsigned r = 0;
#if DM_FP8_ENABLED && defined(__CUDA_ARCH__)
        asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(r) : "h"(c2));
#endif
        return r;
    }
    __device__ __forceinline__ static unsigned pack(float lo, float hi) { return pack_f16x2(lo, hi); }
    __device__ __forceinline__ static void mma(float* d, const unsigned* a, unsigned b0, unsigned b1) { mma_f16(d, a, b0, b1); }
    __device__ __forceinline__ static void kfrag(const unsigned* w, int s, unsigned& lo, unsigned& hi)
    {
        lo = cvt2((unsigned short)(w[s] & 0xffffu));
        hi = cvt2((unsigned short)(w[s] >> 16));
    }
    __device__ __forceinline__ static void vfrag(const unsigned* a, const unsigned* b, unsigned* out)
    {
#pragma unroll
        for (int i = 0; i < VW; i++)
        {
            const unsigned x = dm_prmt(a[i], b[i], 0x5140u), y = dm_prmt(a[i], b[i], 0x7362u); // a0 b0 a1 b1, a2 b2 a3 b3
            out[4 * i] = cvt2((unsigned short)(x & 0xffffu));
            out[4 * i + 1] = cvt2((unsigned short)(x >> 16));
            out[4 * i + 2] = cvt2((unsigned short)(y & 0xffffu));
            out[4 * i + 3] = cvt2((unsigned short)(y >> 16));
        }
    }
};

// Element offset of key p's row (this KV head) in the cache.
__device__ __forceinline__ long long dm_row(const int* __restrict__ table, int p, int nkv, int kvh, int block_size, int bshift)
{
    int bi, off;
    if (bshift >= 0) { bi = p >> bshift; off = p & (block_size - 1); }
    else { bi = p / block_size; off = p - bi * block_size; }
    return (((long long)table[bi] * nkv + kvh) * block_size + off) * HEAD_DIM;
}

// The K and V words of NT 16-key tiles from key p0 (zero past end).
template <int NT, typename KV>
__device__ __forceinline__ void dm_load(unsigned (*kw)[2][KV::KW], unsigned (*vw)[4][KV::VW], const typename KV::T* __restrict__ k_cache,
                                        const typename KV::T* __restrict__ v_cache, const int* __restrict__ table, int p0, int end,
                                        int g, int t4, int nkv, int kvh, int block_size, int bshift)
{
#pragma unroll
    for (int u = 0; u < NT; u++)
    {
#pragma unroll
        for (int j = 0; j < 2; j++)
        {
            const int p = p0 + 16 * u + 8 * j + g;
            if (p < end) ld_words<KV::KW>(kw[u][j], k_cache + dm_row(table, p, nkv, kvh, block_size, bshift) + DM_DK * t4);
            else
#pragma unroll
                for (int i = 0; i < KV::KW; i++) kw[u][j][i] = 0u;
        }
#pragma unroll
        for (int i = 0; i < 4; i++)
        {
            const int p = p0 + 16 * u + 2 * t4 + (i & 1) + 8 * (i >> 1);
            if (p < end) ld_words<KV::VW>(vw[u][i], v_cache + dm_row(table, p, nkv, kvh, block_size, bshift) + DM_DV * g);
            else
#pragma unroll
                for (int w = 0; w < KV::VW; w++) vw[u][i][w] = 0u; // zero, not stale: P = 0 there, and 0 * NaN is NaN
        }
    }
}
#endif

template <int NT, bool PF, typename KV>
__device__ __forceinline__ void paged_attention_mma_body(
    const float* __restrict__ q, bf16* __restrict__ out, float* __restrict__ part_o, float* __restrict__ part_lse,
    const typename KV::T* __restrict__ k_cache, const typename KV::T* __restrict__ v_cache,
    const int* __restrict__ query_starts, const int* __restrict__ context_lens, const int* __restrict__ block_tables,
    int num_seqs, int nh, int nkv, int block_size, int max_blocks_per_seq, float scale, int skip_prefill,
    float k_scale, float v_scale)
{
#if DM_ENABLED
    constexpr float LOG2E = 1.4426950408889634f, LN2 = 0.6931471805599453f;
    __shared__ float sm_m[DM_WARPS][GROUP], sm_l[DM_WARPS][GROUP];
    __shared__ float sm_acc[DM_WARPS][GROUP][HEAD_DIM];
    const int t = blockIdx.x, kvh = blockIdx.y, split = blockIdx.z, nsplit = gridDim.z;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t4 = lane & 3;

    // The sequence that owns token t (as in paged_attention_body: one load for decode steps).
    int s;
    if (t < num_seqs && query_starts[t] == t) s = t;
    else
    {
        int lo = 0, hi = num_seqs - 1;
        while (lo < hi) { int mid = (lo + hi + 1) >> 1; if (query_starts[mid] <= t) lo = mid; else hi = mid - 1; }
        s = lo;
    }
    const int q0 = query_starts[s], qlen = query_starts[s + 1] - q0;
    if (skip_prefill && qlen > 1) return;
    const int visible = context_lens[s] - qlen + (t - q0) + 1;
    const int chunk = ((visible + nsplit - 1) / nsplit + 63) & ~63; // the split boundaries of paged_attention
    const int begin = split * chunk, end = min(visible, begin + chunk);
    const int* table = block_tables + (long long)s * max_blocks_per_seq;
    const int bshift = (block_size & (block_size - 1)) == 0 ? __ffs(block_size) - 1 : -1;
    pdl_begin();

    constexpr int TILE = 16 * NT;
    const int stride = DM_WARPS * TILE;
    int p0 = begin + warp * TILE;
    unsigned kw[NT][2][KV::KW], vw[NT][4][KV::VW];
    if (PF && p0 < end) dm_load<NT, KV>(kw, vw, k_cache, v_cache, table, p0, end, g, t4, nkv, kvh, block_size, bshift);

    // Q's B fragments: column g is head g of the group (zero past GROUP); the rows of k16 slice sl are the lane's dims
    // DK t4 + 4 sl + {0,1} (b0) and + {2,3} (b1), as in the keys' A fragments.
    unsigned qb[DM_NS][2];
    {
        const float qs = scale * LOG2E;
        const float* qp = q + ((long long)t * nh + kvh * GROUP + (g < GROUP ? g : 0)) * HEAD_DIM + DM_DK * t4;
#pragma unroll
        for (int sl = 0; sl < DM_NS; sl++)
        {
            float4 x = g < GROUP ? ((const float4*)qp)[sl] : make_float4(0.f, 0.f, 0.f, 0.f);
            x.x *= qs; x.y *= qs; x.z *= qs; x.w *= qs;
            if (KV::fp8)
            {
                // f16 overflows past 65504: clamp (|q| would have to exceed ~5e5 for this to matter).
                x.x = fminf(fmaxf(x.x, -65504.f), 65504.f); x.y = fminf(fmaxf(x.y, -65504.f), 65504.f);
                x.z = fminf(fmaxf(x.z, -65504.f), 65504.f); x.w = fminf(fmaxf(x.w, -65504.f), 65504.f);
            }
            qb[sl][0] = KV::pack(x.x, x.y);
            qb[sl][1] = KV::pack(x.z, x.w);
        }
    }

    // O^T accumulators: m16 tile mt holds (dim DV g + 2 mt, heads 2t4, 2t4 + 1) and (dim DV g + 2 mt + 1, same heads).
    float o[DM_NM][4];
#pragma unroll
    for (int mt = 0; mt < DM_NM; mt++) o[mt][0] = o[mt][1] = o[mt][2] = o[mt][3] = 0.f;
    float m[2] = { neg_inf(), neg_inf() }, l[2] = { 0.f, 0.f }; // heads 2t4 and 2t4 + 1

    // The loop bound is the same for all lanes of a warp (mma.sync, movmatrix and the shuffles need the whole warp).
    for (; p0 < end; p0 += stride)
    {
        if (!PF) dm_load<NT, KV>(kw, vw, k_cache, v_cache, table, p0, end, g, t4, nkv, kvh, block_size, bshift);
        unsigned kc[NT][2][KV::KW], vc[NT][4][KV::VW];
#pragma unroll
        for (int u = 0; u < NT; u++)
        {
#pragma unroll
            for (int j = 0; j < 2; j++)
#pragma unroll
                for (int i = 0; i < KV::KW; i++) kc[u][j][i] = kw[u][j][i];
#pragma unroll
            for (int j = 0; j < 4; j++)
#pragma unroll
                for (int i = 0; i < KV::VW; i++) vc[u][j][i] = vw[u][j][i];
        }
        if (PF && p0 + stride < end) dm_load<NT, KV>(kw, vw, k_cache, v_cache, table, p0 + stride, end, g, t4, nkv, kvh, block_size, bshift);

        // S^T = K.Q^T per 16-key tile: sc[u] = (key g, heads 2t4, 2t4 + 1), (key g + 8, same heads).
        float sc[NT][4];
#pragma unroll
        for (int u = 0; u < NT; u++)
        {
            sc[u][0] = sc[u][1] = sc[u][2] = sc[u][3] = 0.f;
#pragma unroll
            for (int sl = 0; sl < DM_NS; sl++)
            {
                unsigned a[4];
                KV::kfrag(kc[u][0], sl, a[0], a[2]);
                KV::kfrag(kc[u][1], sl, a[1], a[3]);
                KV::mma(sc[u], a, qb[sl][0], qb[sl][1]);
            }
#pragma unroll
            for (int e = 0; e < 4; e++)
            {
                if (KV::fp8) sc[u][e] *= k_scale;
                if (p0 + 16 * u + g + 8 * (e >> 1) >= end) sc[u][e] = neg_inf();
            }
        }

        // Online softmax (base 2) per head: a head's keys are spread over the lanes with the same t4.
        bool rescale = false;
        float corr[2] = { 1.f, 1.f };
#pragma unroll
        for (int h = 0; h < 2; h++)
        {
            float mx = m[h];
#pragma unroll
            for (int u = 0; u < NT; u++) mx = fmaxf(mx, fmaxf(sc[u][h], sc[u][2 + h]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 8));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
            const float base = mx == neg_inf() ? 0.f : mx;
            if (mx != m[h]) { corr[h] = ex2_approx(m[h] - base); rescale = true; } // m = -inf gives 0
            m[h] = mx;
            float sum = 0.f;
#pragma unroll
            for (int u = 0; u < NT; u++)
            {
                sc[u][h] = ex2_approx(sc[u][h] - base);
                sc[u][2 + h] = ex2_approx(sc[u][2 + h] - base);
                sum += sc[u][h] + sc[u][2 + h];
            }
            l[h] = l[h] * corr[h] + sum;
        }
        if (__any_sync(0xffffffffu, rescale))
        {
#pragma unroll
            for (int mt = 0; mt < DM_NM; mt++) { o[mt][0] *= corr[0]; o[mt][1] *= corr[1]; o[mt][2] *= corr[0]; o[mt][3] *= corr[1]; }
        }

        // O^T += V^T.P^T: P^T's B fragment is the scores' C fragment transposed in registers (movmatrix), V^T's A
        // fragment pairs two keys' values at one dim (prmt).
#pragma unroll
        for (int u = 0; u < NT; u++)
        {
            const unsigned b0 = dm_trans(KV::pack(sc[u][0], sc[u][1])), b1 = dm_trans(KV::pack(sc[u][2], sc[u][3]));
            unsigned va[2 * DM_NM], vb[2 * DM_NM];
            KV::vfrag(vc[u][0], vc[u][1], va); // keys 2t4, 2t4 + 1
            KV::vfrag(vc[u][2], vc[u][3], vb); // keys 2t4 + 8, 2t4 + 9
#pragma unroll
            for (int mt = 0; mt < DM_NM; mt++)
            {
                const unsigned a[4] = { va[2 * mt], va[2 * mt + 1], vb[2 * mt], vb[2 * mt + 1] };
                KV::mma(o[mt], a, b0, b1);
            }
        }
    }

    // This warp's state to shared memory (row sums over the lanes of one t4).
#pragma unroll
    for (int h = 0; h < 2; h++)
    {
        float sum = l[h];
        sum += __shfl_xor_sync(0xffffffffu, sum, 4);
        sum += __shfl_xor_sync(0xffffffffu, sum, 8);
        sum += __shfl_xor_sync(0xffffffffu, sum, 16);
        const int head = 2 * t4 + h;
        if (head >= GROUP) continue;
        if (g == 0) { sm_m[warp][head] = m[h]; sm_l[warp][head] = sum; }
#pragma unroll
        for (int mt = 0; mt < DM_NM; mt++)
        {
            sm_acc[warp][head][DM_DV * g + 2 * mt] = o[mt][h];
            sm_acc[warp][head][DM_DV * g + 2 * mt + 1] = o[mt][2 + h];
        }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < GROUP * HEAD_DIM; idx += ATT_THREADS)
    {
        const int head = idx / HEAD_DIM, d = idx % HEAD_DIM;
        float mm = neg_inf();
#pragma unroll
        for (int w = 0; w < DM_WARPS; w++) mm = fmaxf(mm, sm_m[w][head]);
        float ll = 0.f, aa = 0.f;
        if (mm != neg_inf())
#pragma unroll
            for (int w = 0; w < DM_WARPS; w++)
            {
                const float c = ex2_approx(sm_m[w][head] - mm); // -inf (no keys) gives 0
                ll += sm_l[w][head] * c;
                aa += sm_acc[w][head][d] * c;
            }
        const long long row = (long long)t * nh + kvh * GROUP + head;
        const float inv = (ll > 0.f ? 1.f / ll : 0.f) * (KV::fp8 ? v_scale : 1.f);
        if (nsplit == 1) out[row * HEAD_DIM + d] = f2bf(aa * inv);
        else
        {
            part_o[(row * nsplit + split) * HEAD_DIM + d] = aa * inv;
            if (d == 0) part_lse[row * nsplit + split] = ll > 0.f ? (mm + log2f(ll)) * LN2 : neg_inf();
        }
    }
#endif
}

// Variant 8: one 16-key tile per warp and iteration; 9: the same with the next tile prefetched; 10: two tiles.
#if DM_ENABLED
#define DM_BF16_BODY(NT, PF) paged_attention_mma_body<NT, PF, DmBf16>(DECODE_ARGS, 1.f, 1.f)
#else
#define DM_BF16_BODY(NT, PF)
#endif
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_mma(DECODE_PARAMS(bf16)) { DM_BF16_BODY(1, false); }
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_mma_pf(DECODE_PARAMS(bf16)) { DM_BF16_BODY(1, true); }
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_mma_t2(DECODE_PARAMS(bf16)) { DM_BF16_BODY(2, false); }

// The FP8 cache: 8 = two 16-key tiles per iteration (half the bytes per key of bf16), 9 = one tile with prefetch,
// 10 = four tiles.
#if DM_FP8_ENABLED
#define DM_FP8_BODY(NT, PF) paged_attention_mma_body<NT, PF, DmFp8>(DECODE_ARGS, k_scale, v_scale)
#else
#define DM_FP8_BODY(NT, PF)
#endif
#define DM_FP8_PARAMS DECODE_PARAMS(unsigned char), float k_scale, float v_scale
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_mma_fp8(DM_FP8_PARAMS) { DM_FP8_BODY(2, false); }
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_mma_fp8_pf(DM_FP8_PARAMS) { DM_FP8_BODY(1, true); }
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_mma_fp8_t4(DM_FP8_PARAMS) { DM_FP8_BODY(4, false); }
