using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Serialization;
using PagedAttention.AI.Models;

namespace PagedAttention.Bench.Throughput;

/// <summary>
/// Decode-step memory roofline: a step of B sequences must read every weight once plus each sequence's KV cache,
/// so step time ≥ (weight bytes + B × context × KV bytes per token) / bandwidth.
/// </summary>
public sealed class Roofline
{
    [JsonPropertyName("bandwidth_gbs")] public double BandwidthGBs { get; init; }
    [JsonPropertyName("bandwidth_source")] public string BandwidthSource { get; init; } = "";
    [JsonPropertyName("weight_bytes_per_step")] public long WeightBytes { get; init; }
    [JsonPropertyName("kv_bytes_per_token")] public long KvBytesPerToken { get; init; }
    [JsonPropertyName("batch")] public int Batch { get; init; }
    [JsonPropertyName("mean_context")] public double MeanContext { get; init; }
    [JsonPropertyName("step_ms")] public double StepMs => (WeightBytes + Batch * MeanContext * KvBytesPerToken) / (BandwidthGBs * 1e9) * 1e3;
    [JsonPropertyName("output_tok_s")] public double OutputTokS => Batch / (StepMs / 1e3);
    [JsonPropertyName("percent_reached")] public double PercentReached { get; set; }

    /// <summary>Bytes read per decode step: all linear layers + LM head (the embedding contributes one row each).</summary>
    public static (long Weights, long KvPerToken) Bytes(ModelConfig c, int weightBytesPerParam, int kvBytesPerElem)
    {
        long h = c.HiddenSize, q = (long)c.NumHeads * c.HeadDim, kv = (long)c.NumKvHeads * c.HeadDim;
        long perLayer = h * (q + 2 * kv) + q * h + 3 * h * c.IntermediateSize;
        long linear = c.NumLayers * perLayer + (long)c.VocabSize * h;
        return (linear * weightBytesPerParam, c.NumLayers * 2 * kv * kvBytesPerElem);
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
