// out[t, i] = silu(gu[t, i]) * gu[t, inter + i]: gu is the merged gate|up GEMM output [n, 2 * inter] in bf16.
// When inter % 8 == 0 each thread does 8 outputs with 16-byte loads and stores (rows stay 16-byte aligned); the math
// per element is the same as the scalar path, so both give identical bits.
__device__ __forceinline__ unsigned silu_mul_pair(unsigned g2, unsigned u2)
{
    float g0 = __uint_as_float(g2 << 16), g1 = __uint_as_float(g2 & 0xffff0000u);
    float u0 = __uint_as_float(u2 << 16), u1 = __uint_as_float(u2 & 0xffff0000u);
    unsigned lo = f2bf(g0 / (1.f + expf(-g0)) * u0), hi = f2bf(g1 / (1.f + expf(-g1)) * u1);
    return lo | (hi << 16);
}

extern "C" __global__ void silu_mul(const bf16* __restrict__ gu, bf16* __restrict__ out, int inter, long long total)
{
    pdl_begin();
    if ((inter & 7) == 0)
    {
        const int per_row = inter >> 3;
        const long long vecs = total >> 3;
        for (long long v = blockIdx.x * (long long)blockDim.x + threadIdx.x; v < vecs; v += (long long)gridDim.x * blockDim.x)
        {
            long long t = v / per_row;
            int j = (int)(v - t * per_row);
            const bf16* row = gu + t * 2 * inter + j * 8;
            uint4 g = *(const uint4*)row, u = *(const uint4*)(row + inter);
            uint4 o;
            o.x = silu_mul_pair(g.x, u.x);
            o.y = silu_mul_pair(g.y, u.y);
            o.z = silu_mul_pair(g.z, u.z);
            o.w = silu_mul_pair(g.w, u.w);
            *(uint4*)(out + v * 8) = o;
        }
        return;
    }
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x)
    {
        long long t = e / inter, i = e - t * inter;
        float g = bf2f(gu[t * 2 * inter + i]), u = bf2f(gu[t * 2 * inter + inter + i]);
        out[e] = f2bf(g / (1.f + expf(-g)) * u);
    }
}

// The same products quantized to FP8 E4M3 per token row (the down projection's W8A8 input): codes[t, i] =
// E4M3(y[i] / s_t), s_t = max|y| / 448 in scales[t], y = the bf16 values silu_mul writes (same math, same bits). One
// CTA per token. Rows of up to SILU_FP8_CHUNKS 16-byte chunks per thread (inter <= 16,384 at 1,024 threads) keep their
// products in registers between the max and the codes, so the row is read and its SiLU computed once; longer rows
// (and rows not a multiple of 8) compute the products twice. The first version computed them twice always and ran at
// 1.25 TB/s on the H200 (8,192 x 14,336 rows; ALU-bound, against silu_mul's 3.8 TB/s).
#define SILU_FP8_CHUNKS 2
__device__ __forceinline__ float silu_mul_value(const bf16* row, int inter, int i)
{
    float g = bf2f(row[i]), u = bf2f(row[inter + i]);
    return bf2f(f2bf(g / (1.f + expf(-g)) * u));
}

// The 8 bf16 products of 16-byte chunk j of a row (4 words of two each), their max |y| folded into amax, and their
// 8 E4M3 codes at scale s.
__device__ __forceinline__ void silu_mul_chunk(const bf16* row, int inter, int j, unsigned* p)
{
    uint4 g = ((const uint4*)row)[j], u = ((const uint4*)(row + inter))[j];
    p[0] = silu_mul_pair(g.x, u.x); p[1] = silu_mul_pair(g.y, u.y); p[2] = silu_mul_pair(g.z, u.z); p[3] = silu_mul_pair(g.w, u.w);
}
__device__ __forceinline__ float bf16x8_amax(const unsigned* p, float amax)
{
#pragma unroll
    for (int k = 0; k < 4; k++) amax = fmaxf(amax, fmaxf(fabsf(__uint_as_float(p[k] << 16)), fabsf(__uint_as_float(p[k] & 0xffff0000u))));
    return amax;
}
__device__ __forceinline__ uint2 bf16x8_e4m3(const unsigned* p, float s)
{
    unsigned q[2] = { 0u, 0u };
#pragma unroll
    for (int k = 0; k < 4; k++)
    {
        q[k >> 1] |= f2e4m3x2(__uint_as_float(p[k] << 16) / s, __uint_as_float(p[k] & 0xffff0000u) / s) << ((k & 1) * 16);
    }
    return make_uint2(q[0], q[1]);
}

extern "C" __global__ void silu_mul_fp8(const bf16* __restrict__ gu, unsigned char* __restrict__ codes,
                                        float* __restrict__ scales, int inter)
{
    pdl_begin();
    __shared__ float red[32];
    const bf16* row = gu + (long long)blockIdx.x * 2 * inter;
    unsigned char* c = codes + (long long)blockIdx.x * inter;
    float amax = 0.f;
    const int per_row = inter >> 3;
    if ((inter & 7) == 0 && per_row <= SILU_FP8_CHUNKS * (int)blockDim.x)
    {
        unsigned p[SILU_FP8_CHUNKS][4];
#pragma unroll
        for (int k = 0; k < SILU_FP8_CHUNKS; k++)
        {
            const int j = threadIdx.x + k * blockDim.x;
            if (j < per_row) { silu_mul_chunk(row, inter, j, p[k]); amax = bf16x8_amax(p[k], amax); }
        }
        const float s = fp8_row_scale(block_max(amax, red));
        if (threadIdx.x == 0) scales[blockIdx.x] = s;
#pragma unroll
        for (int k = 0; k < SILU_FP8_CHUNKS; k++)
        {
            const int j = threadIdx.x + k * blockDim.x;
            if (j < per_row) ((uint2*)c)[j] = bf16x8_e4m3(p[k], s);
        }
        return;
    }
    if ((inter & 7) == 0)
    {
        unsigned p[4];
        for (int j = threadIdx.x; j < per_row; j += blockDim.x) { silu_mul_chunk(row, inter, j, p); amax = bf16x8_amax(p, amax); }
        const float s = fp8_row_scale(block_max(amax, red));
        if (threadIdx.x == 0) scales[blockIdx.x] = s;
        for (int j = threadIdx.x; j < per_row; j += blockDim.x) { silu_mul_chunk(row, inter, j, p); ((uint2*)c)[j] = bf16x8_e4m3(p, s); }
        return;
    }
    for (int i = threadIdx.x; i < inter; i += blockDim.x) amax = fmaxf(amax, fabsf(silu_mul_value(row, inter, i)));
    float s = fp8_row_scale(block_max(amax, red));
    if (threadIdx.x == 0) scales[blockIdx.x] = s;
    for (int i = threadIdx.x; i < inter; i += blockDim.x) c[i] = (unsigned char)f2e4m3(silu_mul_value(row, inter, i) / s);
}
