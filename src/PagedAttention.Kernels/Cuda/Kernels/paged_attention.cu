// Causal attention over the paged KV cache, FlashInfer-style: one CTA per (query token, KV head, KV split) covers all
// GROUP query heads that share the KV head, so each K/V row is read once per CTA; a single pass with an online
// softmax, no logits array. Decode (one query token per sequence) is the main case; prefill/append rows work the same
// way (row j of a sequence sees context_len - q_len + j + 1 keys), correct but not yet tiled for tensor cores.
// Threads: 4 warps; within a warp, BDX = HEAD_DIM / 8 lanes hold 8 dims (16 bytes) each of one key, so a warp covers
// 32 / BDX keys at a time. With one split the result goes to out (bf16); with several, each split writes its
// normalised partial output and log-sum-exp, and paged_attention_merge combines them.
// q: [n, nh, HEAD_DIM] fp32; cache: [num_blocks, nkv, block_size, HEAD_DIM] bf16 (or E4M3, paged_attention_fp8);
// out: [n, nh * HEAD_DIM] bf16.
#ifndef HEAD_DIM
#error "HEAD_DIM (elements per head) is not defined: the host passes it (-DHEAD_DIM=..., CudaKernelSources.Defines)"
#endif
#ifndef GROUP
#error "GROUP (query heads per KV head) is not defined: the host passes it (-DGROUP=..., CudaKernelSources.Defines)"
#endif
#ifndef ATT_THREADS
#error "ATT_THREADS (threads per CTA of the decode kernels, CudaKernels.AttentionThreads) is not defined: the host passes it (-DATT_THREADS=..., CudaKernelSources.Defines)"
#endif
static_assert(ATT_THREADS % 32 == 0, "ATT_THREADS must be whole warps");
#define ATT_WARPS (ATT_THREADS / 32)
// Dims per lane: 8 (one 16-byte bf16 load per key, ATT_VEC) or, in the wide variants, 16 (two 16-byte bf16 loads, or
// one 16-byte load of FP8 codes): half the lanes per key, so half the shuffles of the dot products and half the
// redundant exponentials per key, for twice the q and accumulator registers. ATT_WIDE is 16 where that fits
// (GROUP <= 4, HEAD_DIM / 16 lanes dividing a warp), else 8.
#define ATT_VEC 8
#define ATT_WIDE ((GROUP <= 4 && HEAD_DIM % 16 == 0 && 32 % (HEAD_DIM / 16) == 0) ? 16 : 8)

// W 32-bit words of one lane's share of a key, loaded with 16-byte (or 8-byte) vector loads.
template <int W>
struct AttWords
{
    unsigned w[W];
};
template <int W>
__device__ __forceinline__ AttWords<W> att_ld(const void* p)
{
    AttWords<W> r;
    ld_words<W>(r.w, p);
    return r;
}

// The cache element and how a lane's VEC dims of one key are loaded and widened: bf16 (2 bytes per dim) or, for the
// FP8 KV cache, E4M3 codes (1 byte per dim, exact, the layer's K/V scales are applied outside the inner loop, to q and
// to the output). Same lane mapping and tiles for both, so the FP8 kernel is the bf16 one with half the bytes per load.
template <int VEC>
struct AttBf16
{
    typedef bf16 T;
    typedef AttWords<VEC / 2> V;
    static constexpr bool fp8 = false;
    __device__ __forceinline__ static V zero() { V r; for (int i = 0; i < VEC / 2; i++) r.w[i] = 0u; return r; }
    __device__ __forceinline__ static V load(const T* p) { return att_ld<VEC / 2>(p); }
    __device__ __forceinline__ static void unpack(const V& r, float* f)
    {
#pragma unroll
        for (int i = 0; i < VEC / 2; i++) { f[2 * i] = __uint_as_float(r.w[i] << 16); f[2 * i + 1] = __uint_as_float(r.w[i] & 0xffff0000u); }
    }
};
template <int VEC>
struct AttFp8
{
    typedef unsigned char T;
    typedef AttWords<VEC / 4> V;
    static constexpr bool fp8 = true;
    __device__ __forceinline__ static V zero() { V r; for (int i = 0; i < VEC / 4; i++) r.w[i] = 0u; return r; }
    __device__ __forceinline__ static V load(const T* p) { return att_ld<VEC / 4>(p); }
    __device__ __forceinline__ static void unpack(const V& r, float* f)
    {
#pragma unroll
        for (int i = 0; i < VEC / 4; i++)
        {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
            // Ada/Hopper convert two codes per instruction (cvt.rn.f16x2.e4m3x2; every E4M3 value, subnormals and NaN
            // included, is exact in f16 and then in f32, so the result equals e4m3f's). The integer decoder below costs
            // about 7 ALU operations per element and made this kernel ALU-bound (1.0 TB/s of codes against the bf16
            // kernel's 3.3 TB/s on the H200, GpuCheck --attn-bench).
            e4m3x4_f32(r.w[i], f + 4 * i);
#else
#pragma unroll
            for (int j = 0; j < 4; j++) f[4 * i + j] = e4m3f((r.w[i] >> (8 * j)) & 0xffu);
#endif
        }
    }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
    // The four codes of w, lowest byte first, as floats.
    __device__ __forceinline__ static void e4m3x4_f32(unsigned w, float* f)
    {
        unsigned lo, hi;
        asm("{\n\t.reg .b16 a, b;\n\tmov.b32 {a, b}, %2;\n\tcvt.rn.f16x2.e4m3x2 %0, a;\n\tcvt.rn.f16x2.e4m3x2 %1, b;\n\t}"
            : "=r"(lo), "=r"(hi) : "r"(w));
        asm("{\n\t.reg .b16 x, y;\n\tmov.b32 {x, y}, %2;\n\tcvt.f32.f16 %0, x;\n\tcvt.f32.f16 %1, y;\n\t}" : "=f"(f[0]), "=f"(f[1]) : "r"(lo));
        asm("{\n\t.reg .b16 x, y;\n\tmov.b32 {x, y}, %2;\n\tcvt.f32.f16 %0, x;\n\tcvt.f32.f16 %1, y;\n\t}" : "=f"(f[2]), "=f"(f[3]) : "r"(hi));
    }
#endif
};

// The decode kernel (`paged_attention` and the tile variants below): each warp streams a tile of TPW x U keys (TPW = 32 lanes / (HEAD_DIM / VEC) lanes per key):
// all 2U 16-byte K/V loads of a tile are issued before any math (and with PF, the next tile's loads are issued before
// the current tile's math), so a lane keeps up to 4U loads in flight (a first version with one key per lane kept 2);
// the online softmax rescales once per tile per head (U + 1 exponentials instead of 2U), in the log2 domain (q pre-scaled by log2 e, exp2f).
// Split chunks are rounded up to 64 keys so tiles stay aligned with 16-key pages.
// Default tile (H100, 1B shape, GpuCheck --attn-bench): U = 8 without prefetch was fastest at batch 256 and batch 1
// (2.16 / 2.62 / 2.85 TB/s at batch 256, contexts 512 / 2048 / 8192); U = 2 with prefetch was fastest at batch 64.
// For GROUP > 4 the q and accumulator registers leave room for U = 4 only.
#ifndef ATT_U
#define ATT_U (GROUP <= 4 ? 8 : 4)
#endif
#ifndef ATT_PF
#define ATT_PF false
#endif
#define ATT_LOG2E 1.4426950408889634f
#define ATT_LN2 0.6931471805599453f

// Merges state (m2, l2, acc2) into (m, l, acc) in the log2 domain; -inf maxima (no keys seen) contribute nothing.
template <int N>
__device__ __forceinline__ void merge_state2(float& m, float& l, float* acc, float m2, float l2, const float* acc2)
{
    float mn = fmaxf(m, m2);
    if (mn == neg_inf()) return;
    float c1 = m == neg_inf() ? 0.f : exp2f(m - mn), c2 = m2 == neg_inf() ? 0.f : exp2f(m2 - mn);
    l = l * c1 + l2 * c2;
#pragma unroll
    for (int i = 0; i < N; i++) acc[i] = acc[i] * c1 + acc2[i] * c2;
    m = mn;
}

template <int U, int VEC, typename KV>
__device__ __forceinline__ void att_load_tile(typename KV::V* kr, typename KV::V* vr, const typename KV::T* __restrict__ k_cache,
                                              const typename KV::T* __restrict__ v_cache,
                                              const int* __restrict__ table, int p0, int end, int ty, int tx, int nkv, int kvh, int block_size)
{
    constexpr int TPW = 32 / (HEAD_DIM / VEC);
    // Page index and offset by shift and mask when the page size is a power of two (16 in practice), else by division.
    int blk[U], off[U];
    const int bshift = (block_size & (block_size - 1)) == 0 ? __ffs(block_size) - 1 : -1;
#pragma unroll
    for (int u = 0; u < U; u++)
    {
        const int p = p0 + u * TPW + ty;
        int bi;
        if (bshift >= 0) { bi = p >> bshift; off[u] = p & (block_size - 1); }
        else { bi = p / block_size; off[u] = p - bi * block_size; }
        blk[u] = p < end ? table[bi] : 0;
    }
#pragma unroll
    for (int u = 0; u < U; u++)
    {
        const int p = p0 + u * TPW + ty;
        if (p < end)
        {
            const long long base = (((long long)blk[u] * nkv + kvh) * block_size + off[u]) * HEAD_DIM + tx * VEC;
            kr[u] = KV::load(k_cache + base);
            vr[u] = KV::load(v_cache + base);
        }
        else kr[u] = vr[u] = KV::zero();
    }
}

// k_scale / v_scale: the FP8 cache's per-layer scales (ignored, and never multiplied, for bf16): the dequantized key is
// e4m3 * k_scale, so q is scaled by k_scale once; the output, a weighted mean of values, by v_scale once.
template <int U, bool PF, int VEC, typename KV>
__device__ __forceinline__ void paged_attention_body(
    const float* __restrict__ q, bf16* __restrict__ out, float* __restrict__ part_o, float* __restrict__ part_lse,
    const typename KV::T* __restrict__ k_cache, const typename KV::T* __restrict__ v_cache,
    const int* __restrict__ query_starts, const int* __restrict__ context_lens, const int* __restrict__ block_tables,
    int num_seqs, int nh, int nkv, int block_size, int max_blocks_per_seq, float scale, int skip_prefill,
    float k_scale, float v_scale)
{
    __shared__ float sm_m[ATT_WARPS][GROUP], sm_l[ATT_WARPS][GROUP];
    __shared__ float sm_acc[ATT_WARPS][GROUP][HEAD_DIM];
    const int t = blockIdx.x, kvh = blockIdx.y, split = blockIdx.z, nsplit = gridDim.z;
    constexpr int BDX = HEAD_DIM / VEC, TPW = 32 / BDX;
    static_assert(HEAD_DIM % VEC == 0 && 32 % BDX == 0, "the lanes of one key must divide a warp");
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, tx = lane % BDX, ty = lane / BDX;
    const int TILE = TPW * U;

    // The sequence that owns token t. query_starts[t] == t means every sequence before t has one token, so token t
    // starts sequence t: decode steps need one load here instead of a binary search's chain of dependent loads.
    // The step's integer inputs were copied before the step's first kernel started, so (unlike q and the K/V cache,
    // which the previous kernel writes) they may be read before pdl_begin(): this prologue overlaps that kernel's tail.
    int s;
    if (t < num_seqs && query_starts[t] == t) s = t;
    else
    {
        int lo = 0, hi = num_seqs - 1;
        while (lo < hi) { int mid = (lo + hi + 1) >> 1; if (query_starts[mid] <= t) lo = mid; else hi = mid - 1; }
        s = lo;
    }
    const int q0 = query_starts[s], qlen = query_starts[s + 1] - q0;
    if (skip_prefill && qlen > 1) return; // rows that prefill_attention computes (the whole CTA leaves together)
    const int visible = context_lens[s] - qlen + (t - q0) + 1;
    const int chunk = ((visible + nsplit - 1) / nsplit + 63) & ~63;
    const int begin = split * chunk, end = min(visible, begin + chunk);
    const int* table = block_tables + (long long)s * max_blocks_per_seq;
    pdl_begin();

    const int stride = ATT_WARPS * TILE;
    int p0 = begin + warp * TILE;
    typename KV::V kr[U], vr[U];
    if (PF && p0 < end) att_load_tile<U, VEC, KV>(kr, vr, k_cache, v_cache, table, p0, end, ty, tx, nkv, kvh, block_size);

    float qr[GROUP][VEC], acc[GROUP][VEC], m[GROUP], l[GROUP];
    const float qs = KV::fp8 ? scale * ATT_LOG2E * k_scale : scale * ATT_LOG2E;
#pragma unroll
    for (int g = 0; g < GROUP; g++)
    {
        const float4* qp = (const float4*)(q + ((long long)t * nh + kvh * GROUP + g) * HEAD_DIM + tx * VEC);
#pragma unroll
        for (int j = 0; j < VEC / 4; j++)
        {
            const float4 a = qp[j];
            qr[g][4 * j] = a.x * qs; qr[g][4 * j + 1] = a.y * qs; qr[g][4 * j + 2] = a.z * qs; qr[g][4 * j + 3] = a.w * qs;
        }
#pragma unroll
        for (int i = 0; i < VEC; i++) acc[g][i] = 0.f;
        m[g] = neg_inf();
        l[g] = 0.f;
    }

    // The loop bound is the same for all lanes of a warp, so the shuffles below never diverge.
    for (; p0 < end; p0 += stride)
    {
        if (!PF) att_load_tile<U, VEC, KV>(kr, vr, k_cache, v_cache, table, p0, end, ty, tx, nkv, kvh, block_size);
        typename KV::V kc[U], vc[U];
#pragma unroll
        for (int u = 0; u < U; u++) { kc[u] = kr[u]; vc[u] = vr[u]; }
        if (PF && p0 + stride < end) att_load_tile<U, VEC, KV>(kr, vr, k_cache, v_cache, table, p0 + stride, end, ty, tx, nkv, kvh, block_size);

        float sc[GROUP][U];
#pragma unroll
        for (int u = 0; u < U; u++)
        {
            float kf[VEC];
            KV::unpack(kc[u], kf);
#pragma unroll
            for (int g = 0; g < GROUP; g++)
            {
                float d = 0.f;
#pragma unroll
                for (int i = 0; i < VEC; i++) d += qr[g][i] * kf[i];
                sc[g][u] = d;
            }
        }
#pragma unroll
        for (int o = BDX / 2; o > 0; o >>= 1)
#pragma unroll
            for (int g = 0; g < GROUP; g++)
#pragma unroll
                for (int u = 0; u < U; u++) sc[g][u] += __shfl_xor_sync(0xffffffffu, sc[g][u], o);
#pragma unroll
        for (int g = 0; g < GROUP; g++)
        {
            float mt = m[g];
#pragma unroll
            for (int u = 0; u < U; u++)
            {
                if (p0 + u * TPW + ty >= end) sc[g][u] = neg_inf();
                mt = fmaxf(mt, sc[g][u]);
            }
            if (mt != neg_inf())
            {
                const float c = exp2f(m[g] - mt); // m = -inf gives 0
                l[g] *= c;
#pragma unroll
                for (int i = 0; i < VEC; i++) acc[g][i] *= c;
                m[g] = mt;
#pragma unroll
                for (int u = 0; u < U; u++) sc[g][u] = exp2f(sc[g][u] - mt), l[g] += sc[g][u];
            }
        }
#pragma unroll
        for (int u = 0; u < U; u++)
        {
            float vf[VEC];
            KV::unpack(vc[u], vf);
#pragma unroll
            for (int g = 0; g < GROUP; g++)
                if (m[g] != neg_inf())
                {
#pragma unroll
                    for (int i = 0; i < VEC; i++) acc[g][i] += sc[g][u] * vf[i];
                }
        }
    }

    // Merge the keys-in-flight of one warp (lanes with equal tx), then the warps through shared memory.
#pragma unroll
    for (int g = 0; g < GROUP; g++)
    {
#pragma unroll
        for (int o = BDX; o < 32; o <<= 1)
        {
            float m2 = __shfl_xor_sync(0xffffffffu, m[g], o), l2 = __shfl_xor_sync(0xffffffffu, l[g], o), a2[VEC];
#pragma unroll
            for (int i = 0; i < VEC; i++) a2[i] = __shfl_xor_sync(0xffffffffu, acc[g][i], o);
            merge_state2<VEC>(m[g], l[g], acc[g], m2, l2, a2);
        }
        if (ty == 0)
        {
            if (tx == 0) { sm_m[warp][g] = m[g]; sm_l[warp][g] = l[g]; }
#pragma unroll
            for (int i = 0; i < VEC; i++) sm_acc[warp][g][tx * VEC + i] = acc[g][i];
        }
    }
    __syncthreads();
    // The final merge and the stores are spread over the warps: warp w finishes heads g = w, w + 4, ...
    if (ty != 0) return;
#pragma unroll
    for (int g = 0; g < GROUP; g++)
    {
        if (g % ATT_WARPS != warp) continue;
        float mm = sm_m[0][g], ll = sm_l[0][g], aa[VEC];
#pragma unroll
        for (int i = 0; i < VEC; i++) aa[i] = sm_acc[0][g][tx * VEC + i];
#pragma unroll
        for (int w = 1; w < ATT_WARPS; w++)
        {
            float a2[VEC];
#pragma unroll
            for (int i = 0; i < VEC; i++) a2[i] = sm_acc[w][g][tx * VEC + i];
            merge_state2<VEC>(mm, ll, aa, sm_m[w][g], sm_l[w][g], a2);
        }
        const long long row = (long long)t * nh + kvh * GROUP + g;
        const float inv = KV::fp8 ? (ll > 0.f ? 1.f / ll : 0.f) * v_scale : (ll > 0.f ? 1.f / ll : 0.f);
        if (nsplit == 1)
        {
#pragma unroll
            for (int j = 0; j < VEC / 8; j++)
            {
                unsigned w4[4];
#pragma unroll
                for (int i = 0; i < 4; i++) w4[i] = (unsigned)f2bf(aa[8 * j + 2 * i] * inv) | ((unsigned)f2bf(aa[8 * j + 2 * i + 1] * inv) << 16);
                *(uint4*)(out + row * HEAD_DIM + tx * VEC + 8 * j) = make_uint4(w4[0], w4[1], w4[2], w4[3]);
            }
        }
        else
        {
            float4* po = (float4*)(part_o + (row * nsplit + split) * HEAD_DIM + tx * VEC);
#pragma unroll
            for (int j = 0; j < VEC / 4; j++) po[j] = make_float4(aa[4 * j] * inv, aa[4 * j + 1] * inv, aa[4 * j + 2] * inv, aa[4 * j + 3] * inv);
            if (tx == 0) part_lse[row * nsplit + split] = ll > 0.f ? (mm + log2f(ll)) * ATT_LN2 : neg_inf();
        }
    }
}

#define ATT_ARGS DECODE_ARGS
#define ATT_PARAMS DECODE_PARAMS(bf16)

// The default decode kernel, and the variants the microbenchmark compares (same arguments, same results up to the
// summation order). Variant numbers are CudaKernels.AttentionVariant's.
#define ATT_BF16 AttBf16<ATT_VEC>
#define ATT_BF16W AttBf16<ATT_WIDE>
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention(ATT_PARAMS) { paged_attention_body<ATT_U, ATT_PF, ATT_VEC, ATT_BF16>(ATT_ARGS, 1.f, 1.f); }
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_u4pf(ATT_PARAMS) { paged_attention_body<4, true, ATT_VEC, ATT_BF16>(ATT_ARGS, 1.f, 1.f); }
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_u2pf(ATT_PARAMS) { paged_attention_body<2, true, ATT_VEC, ATT_BF16>(ATT_ARGS, 1.f, 1.f); }
extern "C" __global__ void __launch_bounds__(ATT_THREADS, 4) paged_attention_u4lb(ATT_PARAMS) { paged_attention_body<4, true, ATT_VEC, ATT_BF16>(ATT_ARGS, 1.f, 1.f); }
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_w4(ATT_PARAMS) { paged_attention_body<4, false, ATT_WIDE, ATT_BF16W>(ATT_ARGS, 1.f, 1.f); }
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_w2pf(ATT_PARAMS) { paged_attention_body<2, true, ATT_WIDE, ATT_BF16W>(ATT_ARGS, 1.f, 1.f); }
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_w8(ATT_PARAMS) { paged_attention_body<(GROUP <= 4 ? 8 : 4), false, ATT_WIDE, ATT_BF16W>(ATT_ARGS, 1.f, 1.f); }

// The FP8 E4M3 KV cache's decode kernels: K/V codes of one byte, the layer's scales (see the body); the default tile
// and the wide variants (16 codes, one 16-byte load, per lane and key).
#define ATT_FP8_PARAMS DECODE_PARAMS(unsigned char), float k_scale, float v_scale
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_fp8(ATT_FP8_PARAMS)
{
    paged_attention_body<ATT_U, ATT_PF, ATT_VEC, AttFp8<ATT_VEC>>(ATT_ARGS, k_scale, v_scale);
}
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_fp8_w4(ATT_FP8_PARAMS)
{
    paged_attention_body<4, false, ATT_WIDE, AttFp8<ATT_WIDE>>(ATT_ARGS, k_scale, v_scale);
}
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_fp8_w2pf(ATT_FP8_PARAMS)
{
    paged_attention_body<2, true, ATT_WIDE, AttFp8<ATT_WIDE>>(ATT_ARGS, k_scale, v_scale);
}
extern "C" __global__ void __launch_bounds__(ATT_THREADS) paged_attention_fp8_w8(ATT_FP8_PARAMS)
{
    paged_attention_body<(GROUP <= 4 ? 8 : 4), false, ATT_WIDE, AttFp8<ATT_WIDE>>(ATT_ARGS, k_scale, v_scale);
}

// Combines the splits of each (token, head) row: out = sum_s exp(lse_s - M) o_s / sum_s exp(lse_s - M).
// One CTA of HEAD_DIM threads per row.
extern "C" __global__ void paged_attention_merge(const float* __restrict__ part_o, const float* __restrict__ part_lse,
                                                 bf16* __restrict__ out, int nsplit)
{
    pdl_begin();
    const long long row = blockIdx.x;
    const int i = threadIdx.x;
    float mx = neg_inf();
    for (int s = 0; s < nsplit; s++) mx = fmaxf(mx, part_lse[row * nsplit + s]);
    float num = 0.f, den = 0.f;
    for (int s = 0; s < nsplit; s++)
    {
        float lse = part_lse[row * nsplit + s];
        if (lse == neg_inf()) continue;
        float w = expf(lse - mx);
        den += w;
        num += w * part_o[(row * nsplit + s) * HEAD_DIM + i];
    }
    out[row * HEAD_DIM + i] = f2bf(den > 0.f ? num / den : 0.f);
}
