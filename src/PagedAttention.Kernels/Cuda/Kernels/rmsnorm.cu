// residual[r] += delta[r] (+ bias); out[r] = residual[r] / sqrt(mean(residual[r]^2) + eps) * weight, as bf16.
// delta and bias may be null. When row_ends is given, CTA r works on row row_ends[r] - 1 and writes out row r: the
// final norm only for each sequence's last token. One CTA per row; the row is read twice, the second time from L1/L2.
// When d % 4 == 0 (every real model) threads move float4s: a quarter of the instructions for the same bytes.
// The first pass, shared by the bf16 and FP8 variants (so both normalise to the same bits): residual row x += delta
// (+ bias), written back; returns 1 / sqrt(mean(x^2) + eps).
__device__ __forceinline__ float add_rms_prepare(float* __restrict__ x, const float* __restrict__ dx,
                                                 const float* __restrict__ bias, int d, float eps, float* red)
{
    float ss = 0.f;
    if ((d & 3) == 0)
    {
        const int d4 = d >> 2;
        float4* x4 = (float4*)x;
        const float4* dx4 = (const float4*)dx;
        const float4* b4 = (const float4*)bias;
        for (int i = threadIdx.x; i < d4; i += blockDim.x)
        {
            float4 v = x4[i];
            if (dx4) { float4 a = dx4[i]; v.x += a.x; v.y += a.y; v.z += a.z; v.w += a.w; }
            if (b4) { float4 a = b4[i]; v.x += a.x; v.y += a.y; v.z += a.z; v.w += a.w; }
            if (dx4 || b4) x4[i] = v;
            ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
        }
        return rsqrtf(block_sum(ss, red) / d + eps);
    }
    for (int i = threadIdx.x; i < d; i += blockDim.x)
    {
        float v = x[i];
        if (dx) v += dx[i];
        if (bias) v += bias[i];
        if (dx || bias) x[i] = v;
        ss += v * v;
    }
    return rsqrtf(block_sum(ss, red) / d + eps);
}

extern "C" __global__ void fused_add_rms_norm(float* __restrict__ residual, const float* __restrict__ delta,
                                              const float* __restrict__ bias, const float* __restrict__ weight,
                                              bf16* __restrict__ out, const int* __restrict__ row_ends, int d, float eps)
{
    pdl_begin();
    __shared__ float red[32];
    long long src = row_ends ? (long long)(row_ends[blockIdx.x] - 1) : (long long)blockIdx.x;
    float* x = residual + src * d;
    bf16* o = out + (long long)blockIdx.x * d;
    float inv = add_rms_prepare(x, delta ? delta + src * d : 0, bias, d, eps, red);
    if ((d & 3) == 0)
    {
        const int d4 = d >> 2;
        const float4* x4 = (const float4*)x;
        const float4* w4 = (const float4*)weight;
        for (int i = threadIdx.x; i < d4; i += blockDim.x)
        {
            float4 v = x4[i], w = w4[i];
            uint2 p;
            p.x = (unsigned)f2bf(v.x * inv * w.x) | ((unsigned)f2bf(v.y * inv * w.y) << 16);
            p.y = (unsigned)f2bf(v.z * inv * w.z) | ((unsigned)f2bf(v.w * inv * w.w) << 16);
            *(uint2*)(o + 4 * i) = p;
        }
        return;
    }
    for (int i = threadIdx.x; i < d; i += blockDim.x) o[i] = f2bf(x[i] * inv * weight[i]);
}

// The same normalisation, its bf16 outputs then quantized to FP8 E4M3 per row (the next GEMM's W8A8 input):
// codes[r, i] = E4M3(y[i] / s_r), s_r = max|y| / 448 in scales[r], y = the bf16 values fused_add_rms_norm writes. Rows
// are read three times (add, max, codes), the last two from L1/L2.
extern "C" __global__ void fused_add_rms_norm_fp8(float* __restrict__ residual, const float* __restrict__ delta,
                                                  const float* __restrict__ bias, const float* __restrict__ weight,
                                                  unsigned char* __restrict__ codes, float* __restrict__ scales, int d, float eps)
{
    pdl_begin();
    __shared__ float red[32];
    long long row = blockIdx.x;
    float* x = residual + row * d;
    unsigned char* c = codes + row * d;
    float inv = add_rms_prepare(x, delta ? delta + row * d : 0, bias, d, eps, red);
    float amax = 0.f;
    if ((d & 3) == 0)
    {
        const int d4 = d >> 2;
        const float4* x4 = (const float4*)x;
        const float4* w4 = (const float4*)weight;
        for (int i = threadIdx.x; i < d4; i += blockDim.x)
        {
            float4 v = x4[i], w = w4[i];
            amax = fmaxf(amax, fmaxf(fmaxf(fabsf(bf2f(f2bf(v.x * inv * w.x))), fabsf(bf2f(f2bf(v.y * inv * w.y)))),
                                     fmaxf(fabsf(bf2f(f2bf(v.z * inv * w.z))), fabsf(bf2f(f2bf(v.w * inv * w.w))))));
        }
        float s = fp8_row_scale(block_max(amax, red));
        if (threadIdx.x == 0) scales[row] = s;
        for (int i = threadIdx.x; i < d4; i += blockDim.x)
        {
            float4 v = x4[i], w = w4[i];
            ((unsigned*)c)[i] = f2e4m3x2(bf2f(f2bf(v.x * inv * w.x)) / s, bf2f(f2bf(v.y * inv * w.y)) / s)
                              | (f2e4m3x2(bf2f(f2bf(v.z * inv * w.z)) / s, bf2f(f2bf(v.w * inv * w.w)) / s) << 16);
        }
        return;
    }
    for (int i = threadIdx.x; i < d; i += blockDim.x) amax = fmaxf(amax, fabsf(bf2f(f2bf(x[i] * inv * weight[i]))));
    float s = fp8_row_scale(block_max(amax, red));
    if (threadIdx.x == 0) scales[row] = s;
    for (int i = threadIdx.x; i < d; i += blockDim.x) c[i] = (unsigned char)f2e4m3(bf2f(f2bf(x[i] * inv * weight[i])) / s);
}
