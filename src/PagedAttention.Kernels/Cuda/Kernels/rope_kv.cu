// After the merged QKV GEMM: per token, add the q/k/v biases (Qwen2), apply the per-head q/k RMSNorm (Qwen3), rotate q
// and k (GPT-NeoX rotate_half pairs (i, i + HEAD_DIM/2) by position * inv_freq[i]), write q as fp32 for attention
// and k, v as bf16 (or FP8 E4M3, rope_qkv_write_fp8) into the paged cache at the token's slot (slot < 0: padding, nothing written).
// qkv: [n, (nh + 2 nkv) * HEAD_DIM] bf16 (the merged QKV GEMM's output, rounded like transformers' bf16 Linear). Cache layout: [num_blocks, nkv, block_size, HEAD_DIM] bf16, so that one
// (block, kv head) is one contiguous run for the attention kernels. One CTA per token, one warp per head.
#ifndef HEAD_DIM
#error "HEAD_DIM (elements per head) is not defined: the host passes it (-DHEAD_DIM=..., CudaKernelSources.Defines)"
#endif
#define ROPE_HALF (HEAD_DIM / 2)
#define ROPE_PER_LANE ((ROPE_HALF + 31) / 32)

// The cache element: bf16 (f2bf) or, for the FP8 KV cache, an E4M3 code of x / scale (f2e4m3: nearest even,
// saturated to +-448, NaN kept), where scale is the layer's K or V scale (readers multiply it back).
struct KvBf16
{
    typedef bf16 T;
    __device__ __forceinline__ static T store(float x, float) { return f2bf(x); }
};
struct KvFp8
{
    typedef unsigned char T;
    __device__ __forceinline__ static T store(float x, float scale) { return (T)f2e4m3(x / scale); }
};

template <typename KV>
__device__ __forceinline__ void rope_qkv_body(const bf16* __restrict__ qkv, const float* __restrict__ bias,
                                              const float* __restrict__ q_norm, const float* __restrict__ k_norm,
                                              const float* __restrict__ inv_freq, const int* __restrict__ positions,
                                              const int* __restrict__ slots, float* __restrict__ q_out,
                                              typename KV::T* __restrict__ k_cache, typename KV::T* __restrict__ v_cache,
                                              int nh, int nkv, int block_size, float eps, float k_scale, float v_scale)
{
    pdl_begin();
    const int t = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const int heads = nh + 2 * nkv;
    const bf16* row = qkv + (long long)t * heads * HEAD_DIM;
    const float pos = (float)positions[t];
    const int slot = slots[t];
    for (int h = warp; h < heads; h += warps)
    {
        const bool is_q = h < nh, is_v = h >= nh + nkv;
        if (!is_q && slot < 0) continue; // warp-uniform: the whole warp skips
        float a[ROPE_PER_LANE], b[ROPE_PER_LANE];
        float ss = 0.f;
#pragma unroll
        for (int k = 0; k < ROPE_PER_LANE; k++)
        {
            int i = lane + 32 * k;
            a[k] = b[k] = 0.f;
            if (i < ROPE_HALF)
            {
                a[k] = bf2f(row[h * HEAD_DIM + i]);
                b[k] = bf2f(row[h * HEAD_DIM + i + ROPE_HALF]);
                if (bias) { a[k] += bias[h * HEAD_DIM + i]; b[k] += bias[h * HEAD_DIM + i + ROPE_HALF]; }
                ss += a[k] * a[k] + b[k] * b[k];
            }
        }
        const float* norm = is_q ? q_norm : (is_v ? 0 : k_norm);
        if (norm)
        {
            float inv = rsqrtf(warp_sum(ss) / HEAD_DIM + eps);
#pragma unroll
            for (int k = 0; k < ROPE_PER_LANE; k++)
            {
                int i = lane + 32 * k;
                if (i < ROPE_HALF) { a[k] = a[k] * inv * norm[i]; b[k] = b[k] * inv * norm[i + ROPE_HALF]; }
            }
        }
        if (!is_v)
        {
#pragma unroll
            for (int k = 0; k < ROPE_PER_LANE; k++)
            {
                int i = lane + 32 * k;
                if (i < ROPE_HALF)
                {
                    float f = pos * inv_freq[i];
                    float c = cosf(f), s = sinf(f);
                    float x0 = a[k], x1 = b[k];
                    a[k] = x0 * c - x1 * s;
                    b[k] = x1 * c + x0 * s;
                }
            }
        }
        if (is_q)
        {
            float* o = q_out + ((long long)t * nh + h) * HEAD_DIM;
#pragma unroll
            for (int k = 0; k < ROPE_PER_LANE; k++)
            {
                int i = lane + 32 * k;
                if (i < ROPE_HALF) { o[i] = a[k]; o[i + ROPE_HALF] = b[k]; }
            }
        }
        else
        {
            int kvh = is_v ? h - nh - nkv : h - nh;
            long long blk = slot / block_size, off = slot % block_size;
            typename KV::T* o = (is_v ? v_cache : k_cache) + ((blk * nkv + kvh) * block_size + off) * HEAD_DIM;
            const float sc = is_v ? v_scale : k_scale;
#pragma unroll
            for (int k = 0; k < ROPE_PER_LANE; k++)
            {
                int i = lane + 32 * k;
                if (i < ROPE_HALF) { o[i] = KV::store(a[k], sc); o[i + ROPE_HALF] = KV::store(b[k], sc); }
            }
        }
    }
}

#define ROPE_PARAMS(T) const bf16* __restrict__ qkv, const float* __restrict__ bias, const float* __restrict__ q_norm,   \
    const float* __restrict__ k_norm, const float* __restrict__ inv_freq, const int* __restrict__ positions,             \
    const int* __restrict__ slots, float* __restrict__ q_out, T* __restrict__ k_cache, T* __restrict__ v_cache, int nh, \
    int nkv, int block_size, float eps
#define ROPE_ARGS qkv, bias, q_norm, k_norm, inv_freq, positions, slots, q_out, k_cache, v_cache, nh, nkv, block_size, eps

// bf16 cache.
extern "C" __global__ void rope_qkv_write(ROPE_PARAMS(bf16)) { rope_qkv_body<KvBf16>(ROPE_ARGS, 1.f, 1.f); }

// FP8 E4M3 cache (1 byte per element, same layout): k and v divided by the layer's k_scale / v_scale before encoding.
extern "C" __global__ void rope_qkv_write_fp8(ROPE_PARAMS(unsigned char), float k_scale, float v_scale)
{
    rope_qkv_body<KvFp8>(ROPE_ARGS, k_scale, v_scale);
}
