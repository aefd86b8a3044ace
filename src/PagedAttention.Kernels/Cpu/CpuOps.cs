using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// CPU kernels for the Llama-family forward pass. Activations are float32, row-major, one row per token.
/// Weights may be F32, F16 or BF16 and are widened on the fly.
/// </summary>
/// <remarks>
/// GEMM and attention run on <see cref="CpuWorkerPool.Shared"/> (or a pool passed explicitly); the element-wise
/// kernels are SIMD on the calling thread. Nothing here allocates per call. Every kernel computes a row with a
/// fixed sequence of operations, so a token's result does not depend on the batch it is in or on the thread count.
/// See docs/cpu-kernels.md.
/// </remarks>
internal unsafe class CpuOps
{
    /// <summary>y[r, o] = sum_i x[r, i] * w[o, i] (a PyTorch Linear without bias).</summary>
    /// <param name="x">Input, <paramref name="rows"/> x <c>w.Cols</c>.</param>
    /// <param name="rows">Number of input rows (tokens).</param>
    /// <param name="w">Weight, out x in.</param>
    /// <param name="y">Output, <paramref name="rows"/> x <c>w.Rows</c>.</param>
    public static void MatMul(ReadOnlySpan<float> x, int rows, in WeightMatrix w, Span<float> y) =>
        MatMul(x, rows, w, y, CpuWorkerPool.Shared);

    /// <summary>As <see cref="MatMul(ReadOnlySpan{float}, int, in WeightMatrix, Span{float})"/>, on the given pool.</summary>
    public static void MatMul(ReadOnlySpan<float> x, int rows, in WeightMatrix w, Span<float> y, CpuWorkerPool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (w.Data == 0) throw new ArgumentException("The weight matrix is uninitialised.", nameof(w));
        int k = w.Cols, n = w.Rows;
        if (x.Length < (long)rows * k) throw new ArgumentException("x is shorter than rows * w.Cols.", nameof(x));
        if (y.Length < (long)rows * n) throw new ArgumentException("y is shorter than rows * w.Rows.", nameof(y));
        if (rows == 0) return;
        fixed (float* px = x)
        fixed (float* py = y)
            CpuGemm.MatMul(px, rows, w, py, pool);
    }

    /// <summary>Adds <paramref name="bias"/> to every row of <paramref name="y"/>.</summary>
    public static void AddBias(Span<float> y, ReadOnlySpan<float> bias)
    {
        int n = bias.Length;
        if (n == 0) return;
        for (int r = 0; r + n <= y.Length; r += n)
        {
            var row = y.Slice(r, n);
            TensorPrimitives.Add(row, bias, row);
        }
    }

    /// <summary>y = x + y, element-wise (the residual add).</summary>
    public static void Add(ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.Length < y.Length) throw new ArgumentException("x is shorter than y.", nameof(x));
        TensorPrimitives.Add(x[..y.Length], y, y);
    }

    /// <summary>Row-wise RMSNorm: y = x / sqrt(mean(x^2) + eps) * weight, with rows of <c>weight.Length</c> elements.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        int d = weight.Length;
        if (d == 0) throw new ArgumentException("weight is empty.", nameof(weight));
        if (y.Length < x.Length - x.Length % d) throw new ArgumentException("y is shorter than x.", nameof(y));
        fixed (float* px = x)
        fixed (float* pw = weight)
        fixed (float* py = y)
        {
            for (long r = 0; r + d <= x.Length; r += d)
                Elementwise.RmsNormRow(px + r, pw, eps, py + r, d);
        }
    }

    /// <summary>
    /// Rotary position embedding in the GPT-NeoX layout (rotate_half): for each token and head, the pairs
    /// (i, i + headDim/2) are rotated by position * invFreq[i]. <paramref name="x"/> is tokens x heads x headDim.
    /// </summary>
    public static void Rope(Span<float> x, int numHeads, int headDim, ReadOnlySpan<int> positions, ReadOnlySpan<float> invFreq, float attentionScaling = 1f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numHeads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(headDim);
        int half = headDim / 2;
        if (invFreq.Length != half) throw new ArgumentException("invFreq must have headDim / 2 entries.", nameof(invFreq));
        if (x.Length < (long)positions.Length * numHeads * headDim) throw new ArgumentException("x is shorter than tokens * numHeads * headDim.", nameof(x));
        Span<float> cs = half <= 1024 ? stackalloc float[2 * half] : new float[2 * half];
        fixed (float* px = x)
        fixed (float* pc = cs)
        {
            float* cos = pc, sin = pc + half;
            for (int t = 0; t < positions.Length; t++)
            {
                // cos/sin depend on (token, i) only: compute them once per token, not once per head.
                float pos = positions[t];
                for (int i = 0; i < half; i++)
                {
                    float f = pos * invFreq[i];
                    cos[i] = MathF.Cos(f) * attentionScaling;
                    sin[i] = MathF.Sin(f) * attentionScaling;
                }
                for (int h = 0; h < numHeads; h++)
                    Elementwise.RotateHalf(px + ((long)t * numHeads + h) * headDim, cos, sin, half);
            }
        }
    }

    /// <summary>y = silu(gate) * up, element-wise.</summary>
    public static void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y)
    {
        if (gate.Length < y.Length || up.Length < y.Length) throw new ArgumentException("gate and up must be at least as long as y.");
        Span<float> tmp = stackalloc float[256];
        for (int i = 0; i < y.Length; i += tmp.Length)
        {
            // Chunked so that y may alias gate or up: each chunk reads its inputs before writing its output.
            int n = Math.Min(tmp.Length, y.Length - i);
            var t = tmp[..n];
            var g = gate.Slice(i, n);
            TensorPrimitives.Sigmoid(g, t);
            TensorPrimitives.Multiply(t, g, t);
            TensorPrimitives.Multiply(t, up.Slice(i, n), y.Slice(i, n));
        }
    }

    /// <summary>In-place numerically stable softmax.</summary>
    public static void Softmax(Span<float> x)
    {
        if (x.IsEmpty) return;
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        TensorPrimitives.Exp(x, x);
        float inv = 1f / TensorPrimitives.Sum(x);
        TensorPrimitives.Multiply(x, inv, x);
    }

    /// <summary>Gathers rows of <paramref name="table"/> (vocab x hidden) for each id into <paramref name="y"/>.</summary>
    public static void Embedding(ReadOnlySpan<int> ids, in WeightMatrix table, Span<float> y)
    {
        int d = table.Cols;
        if (y.Length < (long)ids.Length * d) throw new ArgumentException("y is shorter than ids * table.Cols.", nameof(y));
        fixed (float* py = y)
        {
            for (int t = 0; t < ids.Length; t++)
            {
                int id = ids[t];
                if ((uint)id >= (uint)table.Rows) throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary of {table.Rows}.");
                Elementwise.WidenRow(table, id, py + (long)t * d);
            }
        }
    }

    /// <summary>
    /// Widens the whole of <paramref name="w"/> to float32 into <paramref name="destination"/> (row-major, Rows x Cols):
    /// the "convert at load" alternative to widening on the fly. Exact for every dtype. Doubles (bf16/f16) the bytes a
    /// GEMV must read, so it only pays where widening is the bottleneck; see docs/cpu-kernels.md.
    /// </summary>
    public static void WidenToF32(in WeightMatrix w, Span<float> destination)
    {
        if (w.Data == 0) throw new ArgumentException("The weight matrix is uninitialised.", nameof(w));
        long n = (long)w.Rows * w.Cols;
        if (destination.Length < n) throw new ArgumentException("destination is shorter than Rows * Cols.", nameof(destination));
        fixed (float* pd = destination)
        {
            byte* src = (byte*)w.Data;
            switch (w.DType)
            {
                case DType.F32: Elementwise.Widen<F32Widener>(src, pd, n); break;
                case DType.F16: Elementwise.Widen<F16Widener>(src, pd, n); break;
                case DType.BF16: Elementwise.Widen<Bf16Widener>(src, pd, n); break;
                default: throw new NotSupportedException($"Weight dtype {w.DType} is not supported.");
            }
        }
    }

    /// <summary>
    /// Writes each token's K and V rows (numKvHeads * headDim floats) into the paged cache at its slot
    /// (block * blockSize + offset). A negative slot means padding and is skipped.
    /// </summary>
    public static void WriteKv(ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<int> slotMapping, PagedKvLayer layer)
    {
        int w = layer.RowWidth;
        if (k.Length < (long)slotMapping.Length * w || v.Length < (long)slotMapping.Length * w)
            throw new ArgumentException("k and v must hold slotMapping.Length rows of numKvHeads * headDim.");
        for (int t = 0; t < slotMapping.Length; t++)
        {
            int slot = slotMapping[t];
            if (slot < 0) continue;
            k.Slice(t * w, w).CopyTo(layer.KeyRow(slot));
            v.Slice(t * w, w).CopyTo(layer.ValueRow(slot));
        }
    }

    /// <summary>
    /// Causal attention over a batch of sequences whose K/V live in a paged cache. Sequence s owns query rows
    /// [queryStarts[s], queryStarts[s+1]); its cache holds contextLens[s] tokens, the new ones last, so query row j
    /// of s sits at position contextLens[s] - queryLen + j and sees positions 0..that one. Block ids of s are
    /// blockTables[s * maxBlocksPerSeq ..]. q and output are tokens x numHeads x headDim; grouped-query heads map
    /// head h to KV head h / (numHeads / numKvHeads).
    /// </summary>
    public static void PagedAttention(
        ReadOnlySpan<float> q, Span<float> output, int numHeads,
        ReadOnlySpan<int> queryStarts, ReadOnlySpan<int> contextLens,
        ReadOnlySpan<int> blockTables, int maxBlocksPerSeq, PagedKvLayer layer, float scale) =>
        PagedAttention(q, output, numHeads, queryStarts, contextLens, blockTables, maxBlocksPerSeq, layer, scale, CpuWorkerPool.Shared);

    /// <summary>As the overload without a pool, on the given pool.</summary>
    public static void PagedAttention(
        ReadOnlySpan<float> q, Span<float> output, int numHeads,
        ReadOnlySpan<int> queryStarts, ReadOnlySpan<int> contextLens,
        ReadOnlySpan<int> blockTables, int maxBlocksPerSeq, PagedKvLayer layer, float scale, CpuWorkerPool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        AttentionArguments.Validate(q, output, numHeads, queryStarts, contextLens, blockTables, maxBlocksPerSeq, layer);
        int numSeqs = contextLens.Length;
        if (numSeqs == 0 || queryStarts[numSeqs] == queryStarts[0]) return;
        fixed (float* pq = q)
        fixed (float* po = output)
        fixed (int* pqs = queryStarts)
        fixed (int* pcl = contextLens)
        fixed (int* pbt = blockTables)
            CpuAttention.Run(pq, po, numHeads, pqs, pcl, numSeqs, pbt, maxBlocksPerSeq, layer, scale, pool);
    }
}
