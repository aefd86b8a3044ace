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
