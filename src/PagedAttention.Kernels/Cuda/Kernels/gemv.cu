// Small-batch GEMM as a GEMV: y[r, j] = sum_c x[r, c] * w[j, c] for r < m <= GEMV_MAX_M, bf16 inputs, fp32 accumulation
// and output. One warp per output column j reads w's row once with 16-byte loads and applies it to every x row, so the
// weights stream from HBM exactly once (decode at batch 1-4 is bound by that stream). Needs k % 8 == 0.
#ifndef GEMV_MAX_M
#error "GEMV_MAX_M (most rows, CudaKernels.GemvMaxRows) is not defined: the host passes it (-DGEMV_MAX_M=..., CudaKernelSources.Defines)"
#endif
#ifndef GEMV_THREADS
#error "GEMV_THREADS (threads per CTA, CudaKernels.GemvThreads) is not defined: the host passes it (-DGEMV_THREADS=..., CudaKernelSources.Defines)"
#endif
static_assert(GEMV_THREADS % 32 == 0, "GEMV_THREADS must be whole warps (one warp per output column)");

__device__ __forceinline__ void gemv_unpack8(uint4 r, float* f)
{
    unsigned u[4] = { r.x, r.y, r.z, r.w };
#pragma unroll
    for (int i = 0; i < 4; i++) { f[2 * i] = __uint_as_float(u[i] << 16); f[2 * i + 1] = __uint_as_float(u[i] & 0xffff0000u); }
}

extern "C" __global__ void __launch_bounds__(GEMV_THREADS) gemv_bf16(const bf16* __restrict__ x, const bf16* __restrict__ w,
                                                            float* __restrict__ y, int m, int n, int k)
{
    pdl_begin();
    const int j = (int)((blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31;
    if (j >= n) return;
    const bf16* wr = w + (long long)j * k;
    float acc[GEMV_MAX_M];
#pragma unroll
    for (int r = 0; r < GEMV_MAX_M; r++) acc[r] = 0.f;
#pragma unroll 4
    for (int c = lane * 8; c < k; c += 256)
    {
        float wf[8];
        gemv_unpack8(__ldg((const uint4*)(wr + c)), wf);
#pragma unroll
        for (int r = 0; r < GEMV_MAX_M; r++)
        {
            if (r >= m) break;
            float xf[8];
            gemv_unpack8(*(const uint4*)(x + (long long)r * k + c), xf);
#pragma unroll
            for (int i = 0; i < 8; i++) acc[r] = fmaf(wf[i], xf[i], acc[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < GEMV_MAX_M; r++)
    {
        if (r >= m) break;
        float v = warp_sum(acc[r]);
        if (lane == 0) y[(long long)r * n + j] = v;
    }
}
