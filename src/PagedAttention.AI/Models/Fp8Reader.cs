using System.Runtime.InteropServices;
using PagedAttention.Kernels;

namespace PagedAttention.AI.Models;

/// <summary>
/// Reads one compressed-tensors FP8 linear layer: <c>weight</c> (<c>F8_E4M3</c>, [out, in], kept memory-mapped) and
/// <c>weight_scale</c> ([out, 1] or [out] per channel; [] or [1] per tensor, repeated per row) into a
/// <see cref="DType.F8E4M3"/> matrix whose element [r, c] is E4M3(code) × scale[r], exactly as compressed-tensors
/// dequantizes it.
/// </summary>
internal sealed unsafe class Fp8Reader : IDisposable
{
    private float* _scales;

    private Fp8Reader(WeightMatrix matrix, float* scales)
    {
        Matrix = matrix;
        _scales = scales;
    }

    /// <summary>The FP8 matrix (codes in the mapped file, scales owned by this reader).</summary>
    public WeightMatrix Matrix { get; }

    /// <summary>Reads layer <paramref name="prefix"/> (e.g. <c>model.layers.0.self_attn.q_proj</c>).</summary>
    /// <exception cref="ModelLoadException">A tensor is missing, of the wrong dtype or shape, or a scale is not finite and positive.</exception>
    public static Fp8Reader Read(CheckpointTensors t, string prefix, int rows, int cols, Fp8Format f)
    {
        var w = t.Info(prefix + ".weight");
        if (w.DTypeName != "F8_E4M3")
            throw new ModelLoadException(w.File, w.Name, $"dtype {w.DTypeName}: an FP8 checkpoint's linear weights must be F8_E4M3 (float8_e4m3fn).");
        if (w.Shape.Length != 2 || w.Shape[0] != rows || w.Shape[1] != cols)
            throw new ModelLoadException(w.File, w.Name, $"wrong shape: expected [{rows}, {cols}], found {w.ShapeText}.");
        RejectNanCodes(w, rows, cols);
        var s = t.Info(prefix + ".weight_scale");
        long count = s.Shape.Aggregate(1L, (a, b) => a * b);
        bool channelShape = (s.Shape.Length == 2 && s.Shape[0] == rows && s.Shape[1] == 1) || (s.Shape.Length == 1 && s.Shape[0] == rows);
        if (f.PerChannel ? !channelShape : count != 1)
            throw new ModelLoadException(s.File, s.Name,
                $"wrong shape {s.ShapeText} for strategy {(f.PerChannel ? "channel" : "tensor")}: expected {(f.PerChannel ? $"[{rows}, 1]" : "[] or [1]")}.");
        var raw = new WeightMatrix(s.Data, s.DType("an FP8 weight scale"), 1, (int)count);
        float* scales = (float*)NativeMemory.AlignedAlloc((nuint)rows * sizeof(float), 64);
        try
        {
            for (int r = 0; r < rows; r++)
            {
                float v = raw[0, f.PerChannel ? r : 0];
                if (!float.IsFinite(v) || v <= 0)
                    throw new ModelLoadException(s.File, s.Name, $"scale {v} at row {(f.PerChannel ? r : 0)} is not a finite positive number.");
                scales[r] = v;
            }
            return new Fp8Reader(new WeightMatrix(w.Data, (nint)scales, DType.F8E4M3, rows, cols), scales);
        }
        catch
        {
            NativeMemory.AlignedFree(scales);
            throw;
        }
    }

    /// <summary>
    /// The CPU kernel widens finite codes only (<c>F8E4M3Widener</c>), so a NaN code (S.1111.111; compressed-tensors
    /// clamps to ±448 and never writes one) fails the load naming where it is, instead of turning into ±480.
    /// </summary>
    private static void RejectNanCodes(TensorInfo w, int rows, int cols)
    {
        var codes = new ReadOnlySpan<byte>((byte*)w.Data, checked(rows * cols));
        int at = codes.IndexOfAny((byte)0x7F, (byte)0xFF);
        if (at >= 0)
            throw new ModelLoadException(w.File, w.Name, $"NaN code 0x{codes[at]:X2} at [{at / cols}, {at % cols}]: FP8 weights must be finite.");
    }

    public void Dispose()
    {
        if (_scales is null) return;
        NativeMemory.AlignedFree(_scales);
        _scales = null;
    }
}
