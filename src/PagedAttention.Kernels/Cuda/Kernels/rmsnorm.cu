// residual[r] += delta[r] (+ bias); out[r] = residual[r] / sqrt(mean(residual[r]^2) + eps) * weight, as bf16.
// delta and bias may be null. When row_ends is given, CTA r works on row row_ends[r] - 1 and writes out row r: the
// final norm only for each sequence's last token. One CTA per row; the row is read twice, the second time from L1/L2.
extern "C" __global__ void fused_add_rms_norm(float* __restrict__ residual, const float* __restrict__ delta,
                                              const float* __restrict__ bias, const float* __restrict__ weight,
                                              bf16* __restrict__ out, const int* __restrict__ row_ends, int d, float eps)
{
    pdl_begin();
    __shared__ float red[32];
    long long src = row_ends ? (long long)(row_ends[blockIdx.x] - 1) : (long long)blockIdx.x;
    float* x = residual + src * d;
    const float* dx = delta ? delta + src * d : 0;
    float ss = 0.f;
    for (int i = threadIdx.x; i < d; i += blockDim.x)
    {
        float v = x[i];
        if (dx) v += dx[i];
        if (bias) v += bias[i];
        if (dx || bias) x[i] = v;
        ss += v * v;
    }
    float inv = rsqrtf(block_sum(ss, red) / d + eps);
    bf16* o = out + (long long)blockIdx.x * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) o[i] = f2bf(x[i] * inv * weight[i]);
}
