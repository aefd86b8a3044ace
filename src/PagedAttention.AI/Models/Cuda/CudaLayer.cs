using PagedAttention.Kernels.Cuda;

namespace PagedAttention.AI.Models.Cuda;

/// <summary>One decoder layer on the device: merged QKV and gate|up matrices in bf16, norms and biases in fp32.</summary>
internal sealed class CudaLayer : IDisposable
{
    public required DeviceBuffer InputNorm { get; init; }
    public required DeviceBuffer Qkv { get; init; }
    public DeviceBuffer? QkvBias { get; init; }
    public DeviceBuffer? QNorm { get; init; }
    public DeviceBuffer? KNorm { get; init; }
    public required DeviceBuffer O { get; init; }
    public DeviceBuffer? OBias { get; init; }
    public required DeviceBuffer PostAttentionNorm { get; init; }
    public required DeviceBuffer GateUp { get; init; }
    public required DeviceBuffer Down { get; init; }

    public static CudaLayer Upload(CudaDevice device, LayerWeights w) => new()
    {
        InputNorm = CudaWeights.Vector(device, w.InputNorm),
        Qkv = CudaWeights.Matrix(device, w.Q, w.K, w.V),
        QkvBias = CudaWeights.OptionalVector(device, w.QBias, w.KBias, w.VBias),
        QNorm = CudaWeights.OptionalVector(device, w.QNorm),
        KNorm = CudaWeights.OptionalVector(device, w.KNorm),
        O = CudaWeights.Matrix(device, w.O),
        OBias = CudaWeights.OptionalVector(device, w.OBias),
        PostAttentionNorm = CudaWeights.Vector(device, w.PostAttentionNorm),
        GateUp = CudaWeights.Matrix(device, w.Gate, w.Up),
        Down = CudaWeights.Matrix(device, w.Down),
    };

    public void Dispose()
    {
        InputNorm.Dispose(); Qkv.Dispose(); QkvBias?.Dispose(); QNorm?.Dispose(); KNorm?.Dispose();
        O.Dispose(); OBias?.Dispose(); PostAttentionNorm.Dispose(); GateUp.Dispose(); Down.Dispose();
    }
}
