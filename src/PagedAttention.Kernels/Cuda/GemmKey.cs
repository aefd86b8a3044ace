namespace PagedAttention.Kernels.Cuda;

/// <summary>What a cached GEMM plan is keyed by: the M bucket, the weight shape and the output type.</summary>
internal readonly record struct GemmKey(int Bucket, int N, int K, bool OutputF32);
