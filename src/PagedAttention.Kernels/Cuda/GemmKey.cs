namespace PagedAttention.Kernels.Cuda;

/// <summary>What a cached GEMM plan is keyed by: the M bucket, the weight shape, the output type and the operand type (bf16, or FP8 E4M3 with outer-vector scales).</summary>
internal readonly record struct GemmKey(int Bucket, int N, int K, bool OutputF32, bool Fp8 = false);
