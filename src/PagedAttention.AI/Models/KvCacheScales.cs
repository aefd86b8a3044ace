using PagedAttention.Kernels;
using PagedAttention.Kernels.Cuda;

namespace PagedAttention.AI.Models;

/// <summary>
/// The per-layer scales of an FP8 KV cache, from the checkpoint when it has them: <c>model.layers.N.self_attn.k_scale</c>
/// and <c>v_scale</c>, one number each (shape [] or [1], any float dtype), as compressed-tensors and vLLM's
/// <c>kv_cache_scheme</c> write them (stored = E4M3(x / scale)). A layer without them gets
/// <see cref="Fp8KvCache.DefaultScale"/>, what vLLM uses when nothing was calibrated.
/// </summary>
internal static class KvCacheScales
{
    /// <summary>One <see cref="KvScales"/> per layer.</summary>
    /// <exception cref="ModelLoadException">A scale tensor holds more than one number, or one that is not finite and positive.</exception>
    public static KvScales[] Read(CheckpointTensors tensors, ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(config);
        var scales = new KvScales[config.NumLayers];
        for (int l = 0; l < scales.Length; l++)
            scales[l] = new KvScales(One(tensors, $"model.layers.{l}.self_attn.k_scale"), One(tensors, $"model.layers.{l}.self_attn.v_scale"));
        return scales;
    }

    private static float One(CheckpointTensors tensors, string name)
    {
        if (!tensors.Contains(name)) return Fp8KvCache.DefaultScale;
        var t = tensors.Info(name);
        if (t.Shape.Aggregate(1L, (a, b) => a * b) != 1 || t.Shape.Length > 1)
            throw new ModelLoadException(t.File, name, $"wrong shape {t.ShapeText}: a KV-cache scale is one number ([] or [1]).");
        float v = new WeightMatrix(t.Data, t.DType("a KV-cache scale"), 1, 1)[0, 0];
        if (!float.IsFinite(v) || v <= 0)
            throw new ModelLoadException(t.File, name, $"KV-cache scale {v} is not a finite positive number.");
        return v;
    }
}
