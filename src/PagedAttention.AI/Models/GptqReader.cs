using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;

namespace PagedAttention.AI.Models;

/// <summary>
/// Reads one GPTQ 4-bit symmetric linear layer (<c>qweight</c>, <c>qzeros</c>, <c>scales</c>, optional <c>g_idx</c>)
/// exactly into the CPU's Int4 format (docs/cpu-kernels.md, "Reading GPTQ checkpoints"): GPTQ's
/// <c>w = scale[g, o] * (q - 8)</c> is the Int4 code <c>q - 8</c> (stored nibble q) with the group's scale, widened to
/// float, repeated for each 32-input group inside the GPTQ group.
/// </summary>
internal static unsafe class GptqReader
{
    /// <summary>
    /// The Int4 matrix [<paramref name="rows"/> outputs, <paramref name="cols"/> inputs] of the GPTQ layer
    /// <paramref name="prefix"/> (e.g. <c>model.layers.0.self_attn.q_proj</c>).
    /// </summary>
    /// <exception cref="ModelLoadException">A tensor is missing, of the wrong dtype or shape, holds an asymmetric zero point, a non-trivial g_idx, or a non-finite scale.</exception>
    public static QuantizedMatrix Read(CheckpointTensors t, string prefix, int rows, int cols, GptqFormat f)
    {
        if (rows % 8 != 0 || cols % 8 != 0)
            throw new ModelLoadException(t.Info(prefix + ".qweight").File, prefix + ".qweight", $"GPTQ packs 8 values per int32: [{rows}, {cols}] needs both sizes to be multiples of 8.");
        int gs = f.GroupSize == -1 ? cols : f.GroupSize, groups = (cols + gs - 1) / gs;
        var qw = Tensor(t, prefix + ".qweight", "I32", cols / 8, rows);
        var qz = Tensor(t, prefix + ".qzeros", "I32", groups, rows / 8);
        var sc = t.Info(prefix + ".scales");
        if (sc.Shape.Length != 2 || sc.Shape[0] != groups || sc.Shape[1] != rows)
            throw new ModelLoadException(sc.File, sc.Name, $"wrong shape: expected [{groups}, {rows}] (ceil({cols} / group_size {gs}), out features), found {sc.ShapeText}.");
        var scales = new WeightMatrix(sc.Data, sc.DType("GPTQ scales"), groups, rows);

        uint* zeros = (uint*)qz.Data;
        for (int g = 0; g < groups; g++)
            for (int o = 0; o < rows; o++)
            {
                int z = (int)(zeros[(long)g * (rows / 8) + o / 8] >> (4 * (o % 8))) & 0xF;
                if (z != f.StoredZero)
                    throw new ModelLoadException(qz.File, qz.Name,
                        $"zero point {(f.ZerosMinusOne ? z + 1 : z)} (stored {z}) at group {g}, output {o}: only symmetric GPTQ (zero point 8) is supported, asymmetric zero points are not.");
                if (!float.IsFinite(scales[g, o]))
                    throw new ModelLoadException(sc.File, sc.Name, $"non-finite scale at group {g}, output {o}.");
            }
        if (t.Contains(prefix + ".g_idx"))
        {
            var gi = Tensor(t, prefix + ".g_idx", "I32", cols);
            int* idx = (int*)gi.Data;
            for (int i = 0; i < cols; i++)
                if (idx[i] != i / gs)
                    throw new ModelLoadException(gi.File, gi.Name, $"g_idx[{i}] = {idx[i]}, not {i} / group_size {gs} = {i / gs}: act-order (desc_act) GPTQ checkpoints are not supported.");
        }

        var q = QuantizedMatrix.CreateInt4(rows, cols, out byte* data, out float* dst);
        var m = q.Matrix;
        long rowBytes = m.RowBytes;
        int scaleGroups = m.PaddedCols / WeightMatrix.Int4ScaleGroup;
        nint words = qw.Data, outData = (nint)data, outScales = (nint)dst;
        // Rows are independent: parallel keeps the load of large models short.
        Parallel.For(0, rows, o => ConvertRow((uint*)words, (byte*)outData + o * rowBytes, (float*)outScales + (long)o * scaleGroups, scales, o, rows, cols, gs));
        return q;
    }

    private static void ConvertRow(uint* words, byte* row, float* dst, WeightMatrix scales, int o, int rows, int cols, int gs)
    {
        for (int i = 0; i < cols; i++)
        {
            // GPTQ: nibble i % 8 of word [i / 8, o] is input i, low bits first; it is q, and w = scale * (q - 8).
            int nib = (int)(words[(long)(i / 8) * rows + o] >> (4 * (i % 8))) & 0xF;
            // Int4: block i / 64, byte i % 32, low nibble for the block's first 32 inputs, high for the last 32.
            byte* b = row + i / WeightMatrix.QuantGroup * (WeightMatrix.QuantGroup / 2) + i % (WeightMatrix.QuantGroup / 2);
            *b = i % WeightMatrix.QuantGroup < WeightMatrix.QuantGroup / 2 ? (byte)((*b & 0xF0) | nib) : (byte)((*b & 0x0F) | (nib << 4));
        }
        for (int s = 0; s * WeightMatrix.Int4ScaleGroup < cols; s++)
            dst[s] = scales[s * WeightMatrix.Int4ScaleGroup / gs, o];
    }

    private static TensorInfo Tensor(CheckpointTensors t, string name, string dtype, params long[] shape)
    {
        var info = t.Info(name);
        if (info.DTypeName != dtype) throw new ModelLoadException(info.File, name, $"dtype {info.DTypeName}: GPTQ stores it as {dtype}.");
        if (!info.Shape.AsSpan().SequenceEqual(shape))
            throw new ModelLoadException(info.File, name, $"wrong shape: expected [{string.Join(", ", shape)}], found {info.ShapeText}.");
        return info;
    }
}
