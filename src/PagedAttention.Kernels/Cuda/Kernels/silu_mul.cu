// out[t, i] = silu(gu[t, i]) * gu[t, inter + i]: gu is the merged gate|up GEMM output [n, 2 * inter] in bf16.
extern "C" __global__ void silu_mul(const bf16* __restrict__ gu, bf16* __restrict__ out, int inter, long long total)
{
    pdl_begin();
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x)
    {
        long long t = e / inter, i = e - t * inter;
        float g = bf2f(gu[t * 2 * inter + i]), u = bf2f(gu[t * 2 * inter + inter + i]);
        out[e] = f2bf(g / (1.f + expf(-g)) * u);
    }
}
