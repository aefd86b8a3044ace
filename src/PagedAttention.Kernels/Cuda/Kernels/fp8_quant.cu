// codes[r, :] = E4M3(in[r, :] / s_r) with s_r = max|in[r, :]| / 448 written to scales[r]: dynamic per-row FP8
// quantization of bf16 rows (the attention output before the O projection, and bf16 weights quantized at load, one
// scale per output channel). One CTA per row; the row is read twice, the second time from L1/L2. Rows of d % 8 == 0
// move 16 bytes in and 8 out per thread.
extern "C" __global__ void quantize_rows_fp8(const bf16* __restrict__ in, unsigned char* __restrict__ codes,
                                             float* __restrict__ scales, int d)
{
    pdl_begin();
    __shared__ float red[32];
    const bf16* x = in + (long long)blockIdx.x * d;
    unsigned char* c = codes + (long long)blockIdx.x * d;
    float amax = 0.f;
    if ((d & 7) == 0)
    {
        const int d8 = d >> 3;
        for (int i = threadIdx.x; i < d8; i += blockDim.x)
        {
            uint4 v = ((const uint4*)x)[i];
            unsigned w[4] = { v.x, v.y, v.z, v.w };
#pragma unroll
            for (int j = 0; j < 4; j++)
                amax = fmaxf(amax, fmaxf(fabsf(__uint_as_float(w[j] << 16)), fabsf(__uint_as_float(w[j] & 0xffff0000u))));
        }
        float s = fp8_row_scale(block_max(amax, red));
        if (threadIdx.x == 0) scales[blockIdx.x] = s;
        for (int i = threadIdx.x; i < d8; i += blockDim.x)
        {
            uint4 v = ((const uint4*)x)[i];
            unsigned w[4] = { v.x, v.y, v.z, v.w }, q[2] = { 0u, 0u };
#pragma unroll
            for (int j = 0; j < 4; j++)
            {
                q[j >> 1] |= f2e4m3x2(__uint_as_float(w[j] << 16) / s, __uint_as_float(w[j] & 0xffff0000u) / s) << ((j & 1) * 16);
            }
            ((uint2*)c)[i] = make_uint2(q[0], q[1]);
        }
        return;
    }
    for (int i = threadIdx.x; i < d; i += blockDim.x) amax = fmaxf(amax, fabsf(bf2f(x[i])));
    float s = fp8_row_scale(block_max(amax, red));
    if (threadIdx.x == 0) scales[blockIdx.x] = s;
    for (int i = threadIdx.x; i < d; i += blockDim.x) c[i] = (unsigned char)f2e4m3(bf2f(x[i]) / s);
}
