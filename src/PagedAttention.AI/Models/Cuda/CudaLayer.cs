using PagedAttention.Kernels.Cuda;

namespace PagedAttention.AI.Models.Cuda;

/// <summary>
/// One decoder layer on the device: merged QKV and gate|up matrices and the O and down projections as
/// <see cref="CudaLinear"/> (all bf16, or all FP8 for W8A8), norms and biases in fp32.
/// </summary>
internal sealed class CudaLayer : IDisposable
{
    public required DeviceBuffer InputNorm { get; init; }
    public required CudaLinear Qkv { get; init; }
    public DeviceBuffer? QkvBias { get; init; }
    public DeviceBuffer? QNorm { get; init; }
    public DeviceBuffer? KNorm { get; init; }
    public required CudaLinear O { get; init; }
    public DeviceBuffer? OBias { get; init; }
    public required DeviceBuffer PostAttentionNorm { get; init; }
    public required CudaLinear GateUp { get; init; }
    public required CudaLinear Down { get; init; }

    /// <summary>Device bytes of the four linear layers.</summary>
    public long LinearBytes => Qkv.Bytes + O.Bytes + GateUp.Bytes + Down.Bytes;

    /// <summary>Uploads one layer; with <paramref name="fp8Kernels"/> its linear layers are FP8 (W8A8), else bf16.</summary>
    public static CudaLayer Upload(CudaDevice device, LayerWeights w, CudaKernels? fp8Kernels)
    {
        var made = new List<IDisposable>();
        T Keep<T>(T d) where T : IDisposable? { if (d is not null) made.Add(d); return d; }
        CudaLinear Linear(params Kernels.WeightMatrix[] parts) =>
            Keep(fp8Kernels is null ? CudaLinear.Bf16(device, parts) : CudaLinear.Fp8(device, fp8Kernels, parts));
        try
        {
            return new CudaLayer
            {
                InputNorm = Keep(CudaWeights.Vector(device, w.InputNorm)),
                Qkv = Linear(w.Q, w.K, w.V),
                QkvBias = Keep(CudaWeights.OptionalVector(device, w.QBias, w.KBias, w.VBias)),
                QNorm = Keep(CudaWeights.OptionalVector(device, w.QNorm)),
                KNorm = Keep(CudaWeights.OptionalVector(device, w.KNorm)),
                O = Linear(w.O),
                OBias = Keep(CudaWeights.OptionalVector(device, w.OBias)),
                PostAttentionNorm = Keep(CudaWeights.Vector(device, w.PostAttentionNorm)),
                GateUp = Linear(w.Gate, w.Up),
                Down = Linear(w.Down),
            };
        }
        catch
        {
            foreach (var d in made) d.Dispose(); // a failed upload frees what this layer already holds
            throw;
        }
    }

    public void Dispose()
    {
        InputNorm.Dispose(); Qkv.Dispose(); QkvBias?.Dispose(); QNorm?.Dispose(); KNorm?.Dispose();
        O.Dispose(); OBias?.Dispose(); PostAttentionNorm.Dispose(); GateUp.Dispose(); Down.Dispose();
    }
}
