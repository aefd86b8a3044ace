// Shared prelude of every kernel file: compiled first, in the same NVRTC program. Header-free on purpose (NVRTC
// without the CUDA toolkit has no cuda_bf16.h), so bf16 is a raw 16-bit pattern converted by hand.
typedef unsigned short bf16;

__device__ __forceinline__ float bf2f(bf16 x) { return __uint_as_float(((unsigned)x) << 16); }

// float -> bf16, round to nearest even, NaN kept quiet (what torch's .to(bfloat16) does).
__device__ __forceinline__ bf16 f2bf(float f)
{
    unsigned u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16)(u >> 16);
}

// Programmatic dependent launch (Hopper). Every kernel calls pdl_begin() first: it waits until the previous grid in
// the stream has finished and its writes are visible (so nothing the previous kernels write may be read, and nothing
// written, before it; the step's integer inputs, copied before its first kernel, may be), then lets the
// next grid be scheduled while this one's last CTAs run, which hides the launch gap between small decode kernels.
// Both instructions are no-ops before sm_90 and when the launch did not ask for programmatic serialization.
__device__ __forceinline__ void pdl_begin()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sum over the whole block; every thread gets the result. blockDim.x must be a multiple of 32, at most 1024.
__device__ __forceinline__ float block_sum(float v, float* shared32)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) shared32[warp] = v;
    __syncthreads();
    v = lane < warps ? shared32[lane] : 0.f;
    return warp_sum(v);
}

// Max over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ __forceinline__ float block_max(float v, float* shared32)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (lane == 0) shared32[warp] = v;
    __syncthreads();
    v = lane < warps ? shared32[lane] : 0.f;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// float -> FP8 E4M3 ("FN": no infinities, NaN = S.1111.111, largest 448), nearest with ties to the even code, magnitudes
// of 448 and above saturated to +-448, NaN to 0x7F: the same codes as Fp8E4M3.FromSingle (C#), which the GPU checks
// compare byte for byte. Done in integer arithmetic rather than cvt.e4m3x2 so that it compiles for every target.
__device__ __forceinline__ unsigned f2e4m3(float f)
{
    unsigned u = __float_as_uint(f), sign = (u >> 24) & 0x80u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return 0x7fu;
    if (a >= 0x43e00000u) return sign | 0x7eu;              // >= 448
    if (a < 0x3c800000u)                                    // < 2^-6: subnormal codes m * 2^-9 (m = 8 is 2^-6)
        return sign | (unsigned)__float2int_rn(__uint_as_float(a) * 512.f);
    unsigned e = (a >> 23) - 120u, keep = (a >> 20) & 7u, rest = a & 0xfffffu; // code exponent = float exponent - 127 + 7
    unsigned code = (e << 3) | keep;
    if (rest > 0x80000u || (rest == 0x80000u && (keep & 1u))) code++; // carries into the exponent when keep was 7
    return sign | code;
}

// Two floats -> their E4M3 codes, lo in the low byte: one cvt.rn.satfinite.e4m3x2.f32 on sm_89+ (nearest even,
// magnitudes past 448 and infinities saturated to +-448: f2e4m3's codes; a NaN gives a NaN code, whose sign bit may
// differ from f2e4m3's 0x7F), else f2e4m3 twice. The integer encoder made the FP8 activation kernels ALU-bound.
__device__ __forceinline__ unsigned f2e4m3x2(float lo, float hi)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
    unsigned short r;
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(r) : "f"(hi), "f"(lo));
    return r;
#else
    return f2e4m3(lo) | (f2e4m3(hi) << 8);
#endif
}

// E4M3 code -> its exact value (every E4M3 value is a float, and a bf16: 3 mantissa bits), the inverse of f2e4m3;
// Fp8E4M3.ToSingle (C#) is the reference. The code's exponent and mantissa bits, placed at the float's exponent and
// mantissa fields, are the value times 2^-120 (for subnormal codes too: they become float denormals), so one multiply
// by 2^120 gives the value; S.1111.111 is NaN. Used by the FP8 KV cache's readers (paged and prefill attention).
__device__ __forceinline__ float e4m3f(unsigned c)
{
    float v = __uint_as_float((c & 0x7fu) << 20) * 1.329227995784916e36f; // 2^120
    v = (c & 0x7fu) == 0x7fu ? __uint_as_float(0x7fc00000u) : v;
    return __uint_as_float(__float_as_uint(v) | ((c & 0x80u) << 24));
}

// Dynamic FP8 scale of a row whose largest magnitude is amax: amax / 448, so the largest value maps to 448; 1 for a
// zero row (every code is then 0). Shared by the activation and weight quantizers; Fp8Quantizer (C#) mirrors it.
__device__ __forceinline__ float fp8_row_scale(float amax)
{
    float s = amax / 448.f;
    return s > 0.f ? s : 1.f;
}

// Tensor-core building blocks (sm_80+) shared by the prefill and decode attention kernels.
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
// d += a . b on tensor cores: m16n8k16, bf16 inputs, fp32 accumulators (a: 4 registers of the row-major 16x16 A
// fragment, b0/b1: the column-major 16x8 B fragment).
__device__ __forceinline__ void mma_bf16(float* d, const unsigned* a, unsigned b0, unsigned b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
// The same with f16 inputs (the FP8 KV cache's codes widen exactly to f16).
__device__ __forceinline__ void mma_f16(float* d, const unsigned* a, unsigned b0, unsigned b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
// Two floats -> bf16x2 / f16x2 (round to nearest even), lo in the low half.
__device__ __forceinline__ unsigned pack_bf16x2(float lo, float hi)
{
    unsigned r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
__device__ __forceinline__ unsigned pack_f16x2(float lo, float hi)
{
    unsigned r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
__device__ __forceinline__ float ex2_approx(float x)
{
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(x));
    return r;
}
#endif

// Shared by the decode attention kernels (paged_attention.cu, paged_attention_mma.cu).

// W 32-bit words from p: 16-byte loads, or one 8-byte load for W = 2.
template <int W>
__device__ __forceinline__ void ld_words(unsigned* r, const void* p)
{
    if constexpr (W % 4 == 0)
    {
#pragma unroll
        for (int i = 0; i < W / 4; i++)
        {
            const uint4 v = ((const uint4*)p)[i];
            r[4 * i] = v.x; r[4 * i + 1] = v.y; r[4 * i + 2] = v.z; r[4 * i + 3] = v.w;
        }
    }
    else
    {
        static_assert(W == 2, "a lane loads 8 or a multiple of 16 bytes");
        const uint2 v = *(const uint2*)p;
        r[0] = v.x; r[1] = v.y;
    }
}

// The arguments of every decode kernel, in the order CudaKernels.PagedAttention passes them (the FP8 ones append the
// layer's k_scale and v_scale).
#define DECODE_PARAMS(T) const float* __restrict__ q, bf16* __restrict__ out, float* __restrict__ part_o, float* __restrict__ part_lse, \
    const T* __restrict__ k_cache, const T* __restrict__ v_cache, const int* __restrict__ query_starts,                      \
    const int* __restrict__ context_lens, const int* __restrict__ block_tables, int num_seqs, int nh, int nkv, int block_size, \
    int max_blocks_per_seq, float scale, int skip_prefill
#define DECODE_ARGS q, out, part_o, part_lse, k_cache, v_cache, query_starts, context_lens, block_tables, num_seqs, nh, nkv, block_size, \
    max_blocks_per_seq, scale, skip_prefill
