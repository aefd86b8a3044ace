// Swap-space copies between the paged KV pools and page-locked host blocks (CudaSwapSpace) in one launch, instead of
// two cuMemcpyAsync per layer per block: at 32 KiB per layer slice (Llama-3-8B shape) the per-copy cost held the
// copies to ~11 GB/s on an H200, and the host spent microseconds queueing each one. Here every slice of every block is
// in flight at once, the device reading or writing the mapped host memory directly over the bus.
// Grid (slices, pairs): CTA (c, p) copies slice c (2 * layer for K, 2 * layer + 1 for V) of block pair p. A host block
// holds its slices in that order, slice c at c * slice_bytes, as the cuMemcpy path lays it out.
// pairs: [n][2] = (device block, host block), read through its mapped address. slices[c]: the base of slice c's pool
// (block b at b * slice_bytes). slice_bytes is a multiple of 16 (the caller checks).
extern "C" __global__ void __launch_bounds__(256) kv_swap_copy(const int* __restrict__ pairs,
                                                               const unsigned long long* __restrict__ slices,
                                                               char* __restrict__ host, long long host_block_bytes,
                                                               long long slice_bytes, int to_host)
{
    const int c = blockIdx.x, p = blockIdx.y;
    const long long dev_block = pairs[2 * p], host_block = pairs[2 * p + 1];
    int4* d = reinterpret_cast<int4*>(reinterpret_cast<char*>(slices[c]) + dev_block * slice_bytes);
    int4* h = reinterpret_cast<int4*>(host + host_block * host_block_bytes + (long long)c * slice_bytes);
    const int4* src = to_host ? d : h;
    int4* dst = to_host ? h : d;
    const long long n = slice_bytes / 16;
    for (long long i = threadIdx.x; i < n; i += blockDim.x) dst[i] = src[i];
}
