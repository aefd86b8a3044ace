namespace PagedAttention.AI.Engine;

/// <summary>How the backend stores the KV cache's elements (<see cref="EngineOptions.KvCacheDtype"/>).</summary>
public enum KvCacheDtype
{
    /// <summary>The backend's own: bf16 on CUDA; the CPU cache's format (unchanged by this option).</summary>
    Auto,

    /// <summary>
    /// FP8 E4M3 (largest 448, nearest-even, saturating), one scale per layer for K and one for V, CUDA only: half the
    /// bytes of bf16 per cached token (docs/cuda.md, "FP8 KV cache").
    /// </summary>
    Fp8E4M3,
}
