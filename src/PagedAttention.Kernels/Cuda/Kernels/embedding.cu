// out[t, :] = table[ids[t], :] widened to fp32 (the residual stream stays fp32). One CTA per token.
extern "C" __global__ void embedding_gather(const int* __restrict__ ids, const bf16* __restrict__ table,
                                            float* __restrict__ out, int d)
{
    pdl_begin();
    const bf16* row = table + (long long)ids[blockIdx.x] * d;
    float* o = out + (long long)blockIdx.x * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) o[i] = bf2f(row[i]);
}
