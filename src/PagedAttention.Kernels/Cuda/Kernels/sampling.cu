// Greedy sampling: out[r] = argmax(logits[r, :]), the lowest index on ties (torch.argmax's rule). One CTA per row.
// Block-wide maximum of the threads' (best, idx) pairs, the lowest index on ties; every thread gets the result.
// sv / si: 32 entries of shared scratch. The reduction order is fixed (lanes, then warps), so results are reproducible.
__device__ __forceinline__ void block_argmax(float& best, int& idx, float* sv, int* si)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
    {
        float ov = __shfl_xor_sync(0xffffffffu, best, o);
        int oi = __shfl_xor_sync(0xffffffffu, idx, o);
        if (ov > best || (ov == best && oi < idx)) { best = ov; idx = oi; }
    }
    __syncthreads(); // sv / si may still be read from an earlier call
    if (lane == 0) { sv[warp] = best; si[warp] = idx; }
    __syncthreads();
    if (warp == 0)
    {
        best = lane < warps ? sv[lane] : neg_inf();
        idx = lane < warps ? si[lane] : 0x7fffffff;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1)
        {
            float ov = __shfl_xor_sync(0xffffffffu, best, o);
            int oi = __shfl_xor_sync(0xffffffffu, idx, o);
            if (ov > best || (ov == best && oi < idx)) { best = ov; idx = oi; }
        }
        if (lane == 0) { sv[0] = best; si[0] = idx; }
    }
    __syncthreads();
    best = sv[0];
    idx = si[0];
}

extern "C" __global__ void argmax_rows(const float* __restrict__ logits, int vocab, int* __restrict__ out)
{
    pdl_begin();
    __shared__ float sv[32];
    __shared__ int si[32];
    const float* row = logits + (long long)blockIdx.x * vocab;
    float best = neg_inf();
    int idx = 0x7fffffff;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x)
    {
        float v = row[i];
        if (v > best) { best = v; idx = i; } // strided ascending: the first max a thread sees is its lowest index
    }
    block_argmax(best, idx, sv, si);
    if (threadIdx.x == 0) out[blockIdx.x] = idx == 0x7fffffff ? 0 : idx;
}

// ---- Random sampling on the GPU (temperature, top-k, top-p, min-p, penalties), seeded per sequence ----------------
// Per-row parameters, 48 bytes, written by the host (CudaSampler). temperature < 1e-5 means greedy. mask_row: the
// row's allowed-token bitmask in `masks` (mask_words 32-bit words each, bit t % 32 of word t / 32 set = token t
// allowed), or -1 for an unconstrained row, which reads no mask at all.
struct SampleRow
{
    float temperature, top_p, min_p, repetition, frequency, presence;
    int top_k, step;
    unsigned key_lo, key_hi;
    int mask_row, pad1;
};
#ifndef SAMPLE_ROW_BYTES
#error "SAMPLE_ROW_BYTES (bytes per SampleRow the host writes, CudaKernels.SampleRowBytes) is not defined: the host passes it (-DSAMPLE_ROW_BYTES=..., CudaKernelSources.Defines)"
#endif
static_assert(sizeof(SampleRow) == SAMPLE_ROW_BYTES, "SampleRow must match the host layout (CudaSampler)");

// One thread per (row, token) entry; entries are distinct per row, so no two threads touch the same logit.
// flags bit 0: the token is in the prompt or output (repetition penalty); bit 1: mask to -inf (min_tokens).
// count: occurrences in the output (frequency / presence penalties). Same order as the host Sampler.
extern "C" __global__ void apply_penalties(float* __restrict__ logits, int vocab, const SampleRow* __restrict__ rows,
                                           const int4* __restrict__ entries, int num_entries)
{
    pdl_begin();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= num_entries) return;
    int4 e = entries[i];
    const SampleRow& p = rows[e.x];
    float* l = logits + (long long)e.x * vocab + e.y;
    float v = *l;
    if ((e.w & 1) && p.repetition != 1.f) v = v > 0.f ? v / p.repetition : v * p.repetition;
    if (e.z > 0) v -= p.frequency * e.z + p.presence;
    if (e.w & 2) v = neg_inf();
    *l = v;
}

// Philox4x32-10 (Salmon et al. 2011): a counter-based RNG, so a draw depends only on (key, counter).
__device__ __forceinline__ unsigned philox_first(unsigned c0, unsigned c1, unsigned c2, unsigned c3, unsigned k0, unsigned k1)
{
#pragma unroll
    for (int r = 0; r < 10; r++)
    {
        unsigned hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        unsigned hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        c0 = hi1 ^ c1 ^ k0; c1 = lo1; c2 = hi0 ^ c3 ^ k1; c3 = lo0;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    return c0;
}

// Order-preserving map of a float to an unsigned key (larger float, larger key).
__device__ __forceinline__ unsigned sort_key(float f)
{
    unsigned u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

#ifndef SAMPLE_THREADS
#error "SAMPLE_THREADS (threads per CTA of sample_rows, CudaKernels.SampleThreads) is not defined: the host passes it (-DSAMPLE_THREADS=..., CudaKernelSources.Defines)"
#endif
static_assert(SAMPLE_THREADS % 32 == 0 && SAMPLE_THREADS >= 256 && SAMPLE_THREADS <= 1024,
              "sample_rows: whole warps, at least one thread per histogram bin (256), at most 1024 (32 warps for the reductions)");
#ifndef EMPTY_MASK_TOKEN
#error "EMPTY_MASK_TOKEN (the id written for a constrained row whose mask allows no finite logit, CudaKernels.EmptyMaskToken) is not defined: the host passes it (-DEMPTY_MASK_TOKEN=..., CudaKernelSources.Defines)"
#endif
#define MASS_ONE 1099511627776.0

// A row's logit as the sampler sees it: -inf where the row's grammar mask forbids the token. The mask is read where
// the logit is read (no separate pass writing -inf over the logits); `mask` is null for unconstrained rows, a branch
// uniform across the CTA.
__device__ __forceinline__ float masked_logit(const float* __restrict__ row, const unsigned* __restrict__ mask, int i)
{
    float v = row[i];
    if (mask != nullptr && !((mask[i >> 5] >> (i & 31)) & 1u)) v = neg_inf();
    return v;
} // 2^40: probabilities relative to the top token, in fixed point, summed exactly

// Block-wide radix select over 8-bit digits. Finds the largest key T such that the weight of elements with
// key >= T (among those with key >= floor_key, i.e. kept so far) reaches target. weight_mode 0: each element weighs 1
// (top-k); 1: exp((l - max) / T) in 2^-40 fixed point (top-p). Integer sums: the result is deterministic.
__device__ unsigned radix_threshold(const float* row, const unsigned* allow, int vocab, unsigned floor_key, unsigned long long target, int weight_mode,
                                    float mx, float inv_t, unsigned long long* hist, unsigned* shared_prefix)
{
    unsigned prefix = 0, mask = 0;
    for (int shift = 24; shift >= 0; shift -= 8)
    {
        for (int b = threadIdx.x; b < 256; b += blockDim.x) hist[b] = 0ull;
        __syncthreads();
        // Nearby logits share their high key bytes, so most of a warp often lands in one bin: add the warp's sum with
        // one atomic then (shared-memory atomics on one address serialise), else one atomic per lane.
        for (int base = 0; base < vocab; base += blockDim.x)
        {
            int i = base + threadIdx.x;
            float v = i < vocab ? masked_logit(row, allow, i) : neg_inf();
            unsigned k = sort_key(v);
            unsigned long long w = 0ull;
            if (i < vocab && k >= floor_key && (k & mask) == prefix)
                w = weight_mode == 0 ? 1ull : (unsigned long long)(expf((v - mx) * inv_t) * MASS_ONE);
            const bool valid = w != 0ull;
            const unsigned bin = (k >> shift) & 255u;
            const unsigned valid_mask = __ballot_sync(0xffffffffu, valid);
            if (valid_mask == 0u) continue;
            const unsigned peers = __match_any_sync(0xffffffffu, valid ? bin : 0xffffffffu);
            if (__all_sync(0xffffffffu, !valid || peers == valid_mask))
            {
#pragma unroll
                for (int o = 16; o > 0; o >>= 1) w += __shfl_xor_sync(0xffffffffu, w, o);
                if ((threadIdx.x & 31) == __ffs(valid_mask) - 1) atomicAdd(&hist[bin], w);
            }
            else if (valid) atomicAdd(&hist[bin], w);
        }
        __syncthreads();
        if (threadIdx.x == 0)
        {
            unsigned long long acc = 0;
            int chosen = 0;
            for (int b = 255; b >= 0; b--)
            {
                if (acc + hist[b] >= target) { chosen = b; break; }
                acc += hist[b];
            }
            target -= acc;
            *shared_prefix = prefix | ((unsigned)chosen << shift);
            shared_prefix[1] = (unsigned)(target >> 32);
            shared_prefix[2] = (unsigned)target;
        }
        __syncthreads();
        prefix = *shared_prefix;
        target = ((unsigned long long)shared_prefix[1] << 32) | shared_prefix[2];
        mask |= 255u << shift;
        __syncthreads();
    }
    return prefix;
}

// One CTA per row: greedy rows take the argmax (lowest index on ties); others keep the top-k, then the tokens with
// probability >= min_p x the top token's, then the smallest top set whose mass reaches top_p, and sample from what is
// kept with the Gumbel-max trick: argmax(l / T + Gumbel(u)), u = Philox(key, (token, step)). The draw for a row
// depends only on its logits, its key and its step, never on the other rows of the batch. A constrained row
// (mask_row >= 0) sees forbidden tokens as -inf everywhere, so top-k/top-p/min-p act on the allowed set only; when its
// mask leaves no finite logit it gets EMPTY_MASK_TOKEN, which the host turns into a failed request.
extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS) sample_rows(const float* __restrict__ logits, int vocab,
                                                                         const SampleRow* __restrict__ rows,
                                                                         const unsigned* __restrict__ masks, int mask_words,
                                                                         int* __restrict__ out)
{
    pdl_begin();
    __shared__ unsigned long long hist[256];
    __shared__ unsigned sh[4];
    __shared__ float sv[32];
    __shared__ int si[32];
    const SampleRow p = rows[blockIdx.x];
    const float* row = logits + (long long)blockIdx.x * vocab;
    const unsigned* mask = p.mask_row >= 0 ? masks + (long long)p.mask_row * mask_words : nullptr;
    const bool greedy = !(p.temperature >= 1e-5f);
    const int lane = threadIdx.x & 31;

    // Pass 1: the maximum (and its lowest index, which is the greedy answer).
    float best = neg_inf();
    int idx = 0x7fffffff;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) { float v = masked_logit(row, mask, i); if (v > best) { best = v; idx = i; } }
    block_argmax(best, idx, sv, si);
    const float mx = best;
    const int top = idx == 0x7fffffff ? 0 : idx;
    if (mask != nullptr && mx == neg_inf())
    {
        if (threadIdx.x == 0) out[blockIdx.x] = EMPTY_MASK_TOKEN;
        return;
    }
    if (greedy || mx == neg_inf())
    {
        if (threadIdx.x == 0) out[blockIdx.x] = top;
        return;
    }
    const float inv_t = 1.f / p.temperature;

    // Top-k: the k-th largest logit's key (ties with it are kept).
    unsigned floor_key = sort_key(neg_inf()) + 1u; // excludes -inf (masked) tokens
    if (p.top_k > 0 && p.top_k < vocab)
        floor_key = max(floor_key, radix_threshold(row, mask, vocab, floor_key, (unsigned long long)p.top_k, 0, mx, inv_t, hist, sh));
    // Min-p: weight exp((l - max) / T) >= min_p, i.e. l >= max + T ln(min_p).
    if (p.min_p > 0.f)
    {
        float cut = mx + p.temperature * logf(p.min_p);
        floor_key = max(floor_key, sort_key(cut));
    }
    // Top-p: total kept mass, then the smallest top set reaching top_p of it.
    if (p.top_p < 1.f)
    {
        unsigned long long mass = 0;
        for (int i = threadIdx.x; i < vocab; i += blockDim.x)
        {
            float v = masked_logit(row, mask, i);
            if (sort_key(v) >= floor_key) mass += (unsigned long long)(expf((v - mx) * inv_t) * MASS_ONE);
        }
        // Block sum of 64-bit integers through the histogram slots.
        for (int o = 16; o > 0; o >>= 1) mass += __shfl_xor_sync(0xffffffffu, mass, o);
        if (threadIdx.x < 256) hist[threadIdx.x] = 0ull;
        __syncthreads();
        if (lane == 0) atomicAdd(&hist[0], mass);
        __syncthreads();
        mass = hist[0];
        __syncthreads();
        unsigned long long target = (unsigned long long)ceil((double)p.top_p * (double)mass);
        if (target < 1ull) target = 1ull;
        floor_key = max(floor_key, radix_threshold(row, mask, vocab, floor_key, target, 1, mx, inv_t, hist, sh));
    }

    // Gumbel-max over the kept tokens.
    best = neg_inf();
    idx = 0x7fffffff;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x)
    {
        float v = masked_logit(row, mask, i);
        if (sort_key(v) < floor_key) continue;
        unsigned r = philox_first((unsigned)i, (unsigned)p.step, 0x5A3Du, 0u, p.key_lo, p.key_hi);
        float u = ((float)(r >> 8) + 0.5f) * (1.f / 16777216.f); // (0, 1)
        float s = (v - mx) * inv_t - logf(-logf(u));
        if (s > best) { best = s; idx = i; }
    }
    block_argmax(best, idx, sv, si);
    if (threadIdx.x == 0) out[blockIdx.x] = idx == 0x7fffffff ? top : idx;
}
