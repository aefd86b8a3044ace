// After the merged QKV GEMM: per token, add the q/k/v biases (Qwen2), apply the per-head q/k RMSNorm (Qwen3), rotate q
// and k (GPT-NeoX rotate_half pairs (i, i + HEAD_DIM/2) by position * inv_freq[i]), write q as fp32 for attention
// and k, v as bf16 into the paged cache at the token's slot (slot < 0: padding, nothing written).
// qkv: [n, (nh + 2 nkv) * HEAD_DIM] bf16 (the merged QKV GEMM's output, rounded like transformers' bf16 Linear). Cache layout: [num_blocks, nkv, block_size, HEAD_DIM] bf16, so that one
// (block, kv head) is one contiguous run for the attention kernels. One CTA per token, one warp per head.
#ifndef HEAD_DIM
#error "HEAD_DIM (elements per head) is not defined: the host passes it (-DHEAD_DIM=..., CudaKernelSources.Defines)"
#endif
#define ROPE_HALF (HEAD_DIM / 2)
#define ROPE_PER_LANE ((ROPE_HALF + 31) / 32)

extern "C" __global__ void rope_qkv_write(const bf16* __restrict__ qkv, const float* __restrict__ bias,
                                          const float* __restrict__ q_norm, const float* __restrict__ k_norm,
                                          const float* __restrict__ inv_freq, const int* __restrict__ positions,
                                          const int* __restrict__ slots, float* __restrict__ q_out,
                                          bf16* __restrict__ k_cache, bf16* __restrict__ v_cache,
                                          int nh, int nkv, int block_size, float eps)
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
            bf16* o = (is_v ? v_cache : k_cache) + ((blk * nkv + kvh) * block_size + off) * HEAD_DIM;
#pragma unroll
            for (int k = 0; k < ROPE_PER_LANE; k++)
            {
                int i = lane + 32 * k;
                if (i < ROPE_HALF) { o[i] = f2bf(a[k]); o[i + ROPE_HALF] = f2bf(b[k]); }
            }
        }
    }
}
