using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Serialization;
using PagedAttention.AI.Models;

namespace PagedAttention.Bench.Throughput;

/// <summary>
/// Decode-step roofline: a step of B sequences must read every weight once plus each sequence's KV cache, and must do
/// 2 FLOPs per weight per sequence plus attention's 4 × context × query width per layer per sequence, so
/// step time ≥ max(bytes / bandwidth, FLOPs / peak tensor FLOP/s). A large batch is compute-bound: judging it by
/// bandwidth alone would call it a failure it is not (issue 18).
/// </summary>
public sealed class Roofline
{
    [JsonPropertyName("bandwidth_gbs")] public double BandwidthGBs { get; init; }
    [JsonPropertyName("bandwidth_source")] public string BandwidthSource { get; init; } = "";
    /// <summary>Peak dense tensor FLOP/s for the weights' dtype, in TFLOP/s; 0 = unknown (CPU): memory bound only.</summary>
    [JsonPropertyName("peak_tflops")] public double PeakTflops { get; init; }
    /// <summary>
    /// Peak for the linear layers' FLOPs when they run in another dtype than attention (FP8 layers: the FP8 peak for
    /// the decoder layers and the bf16 one for the LM head, combined by their FLOP shares); 0 = <see cref="PeakTflops"/>.
    /// </summary>
    [JsonPropertyName("linear_peak_tflops")] public double LinearPeakTflops { get; init; }
    [JsonPropertyName("weight_bytes_per_step")] public long WeightBytes { get; init; }
    [JsonPropertyName("kv_bytes_per_token")] public long KvBytesPerToken { get; init; }
    /// <summary>FLOPs per sequence per step outside attention: 2 × linear parameters (LM head included).</summary>
    [JsonPropertyName("linear_flops_per_token")] public long LinearFlopsPerToken { get; init; }
    /// <summary>Attention FLOPs per sequence per step per context token: 4 × query width × layers (QK and PV).</summary>
    [JsonPropertyName("attention_flops_per_context_token")] public long AttentionFlopsPerContextToken { get; init; }
    [JsonPropertyName("batch")] public int Batch { get; init; }
    [JsonPropertyName("mean_context")] public double MeanContext { get; init; }
    [JsonPropertyName("memory_ms")] public double MemoryMs => (WeightBytes + Batch * MeanContext * KvBytesPerToken) / (BandwidthGBs * 1e9) * 1e3;
    [JsonPropertyName("compute_ms")] public double ComputeMs => PeakTflops <= 0 ? 0
        : Batch * (LinearFlopsPerToken / (LinearPeakTflops > 0 ? LinearPeakTflops : PeakTflops) + MeanContext * AttentionFlopsPerContextToken / PeakTflops) / 1e12 * 1e3;
    [JsonPropertyName("step_ms")] public double StepMs => Math.Max(MemoryMs, ComputeMs);
    [JsonPropertyName("bound")] public string Bound => ComputeMs > MemoryMs ? "compute" : "memory";
    [JsonPropertyName("output_tok_s")] public double OutputTokS => Batch / (StepMs / 1e3);
    [JsonPropertyName("percent_reached")] public double PercentReached { get; set; }

    /// <summary>FLOPs per step per sequence: (linear, attention per context token).</summary>
    public static (long Linear, long AttentionPerContextToken) Flops(ModelConfig c)
    {
        var (layers, lmHead) = LinearParams(c);
        return (2 * (layers + lmHead), 4L * c.NumHeads * c.HeadDim * c.NumLayers);
    }

    /// <summary>Linear parameters: (decoder layers, LM head).</summary>
    public static (long Layers, long LmHead) LinearParams(ModelConfig c)
    {
        long h = c.HiddenSize, q = (long)c.NumHeads * c.HeadDim, kv = (long)c.NumKvHeads * c.HeadDim;
        return (c.NumLayers * (h * (q + 2 * kv) + q * h + 3 * h * c.IntermediateSize), (long)c.VocabSize * h);
    }

    /// <summary>Bytes read per decode step: all linear layers + LM head (the embedding contributes one row each).</summary>
    public static (long Weights, long KvPerToken) Bytes(ModelConfig c, int weightBytesPerParam, int kvBytesPerElem)
    {
        var (layers, lmHead) = LinearParams(c);
        return ((layers + lmHead) * weightBytesPerParam, 2L * c.NumLayers * c.NumKvHeads * c.HeadDim * kvBytesPerElem);
    }

    /// <summary>Host copy bandwidth (GB/s, read + write counted) over 2 × 256 MiB, best of 5; for CPU runs.</summary>
    public static unsafe double MeasureHostCopyGBs()
    {
        const long n = 256L << 20;
        byte* a = (byte*)NativeMemory.AlignedAlloc((nuint)n, 64), b = (byte*)NativeMemory.AlignedAlloc((nuint)n, 64);
        try
        {
            new Span<byte>(a, (int)n).Fill(1); new Span<byte>(b, (int)n).Fill(2);
            double best = 0;
            for (int i = 0; i < 5; i++)
            {
                long t = Stopwatch.GetTimestamp();
                Buffer.MemoryCopy(a, b, n, n);
                double s = Stopwatch.GetElapsedTime(t).TotalSeconds;
                best = Math.Max(best, 2.0 * n / s / 1e9);
            }
            return best;
        }
        finally { NativeMemory.AlignedFree(a); NativeMemory.AlignedFree(b); }
    }
}
