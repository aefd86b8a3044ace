namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// CPU kernels for the Llama-family forward pass. Activations are float32, row-major, one row per token.
/// Weights may be F32, F16 or BF16 and are widened on the fly.
/// </summary>
/// <remarks>This is the scalar reference implementation; the optimised kernels keep these signatures.</remarks>
public static unsafe class CpuOps
{
    /// <summary>y[r, o] = sum_i x[r, i] * w[o, i] (a PyTorch Linear without bias).</summary>
    /// <param name="x">Input, <paramref name="rows"/> x <c>w.Cols</c>.</param>
    /// <param name="rows">Number of input rows (tokens).</param>
    /// <param name="w">Weight, out x in.</param>
    /// <param name="y">Output, <paramref name="rows"/> x <c>w.Rows</c>.</param>
    public static void MatMul(ReadOnlySpan<float> x, int rows, in WeightMatrix w, Span<float> y)
    {
        int k = w.Cols, n = w.Rows;
        if (x.Length < rows * k) throw new ArgumentException("x is shorter than rows * w.Cols.", nameof(x));
        if (y.Length < rows * n) throw new ArgumentException("y is shorter than rows * w.Rows.", nameof(y));
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * k, k);
            for (int o = 0; o < n; o++)
            {
                float acc = 0;
                for (int i = 0; i < k; i++) acc += xr[i] * w[o, i];
                y[r * n + o] = acc;
            }
        }
    }

    /// <summary>Adds <paramref name="bias"/> to every row of <paramref name="y"/>.</summary>
    public static void AddBias(Span<float> y, ReadOnlySpan<float> bias)
    {
        int n = bias.Length;
        for (int r = 0; r + n <= y.Length; r += n)
            for (int i = 0; i < n; i++) y[r + i] += bias[i];
    }

    /// <summary>y = x + y, element-wise (the residual add).</summary>
    public static void Add(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] += x[i];
    }

    /// <summary>Row-wise RMSNorm: y = x / sqrt(mean(x^2) + eps) * weight, with rows of <c>weight.Length</c> elements.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        int d = weight.Length;
        for (int r = 0; r + d <= x.Length; r += d)
        {
            double ss = 0;
            for (int i = 0; i < d; i++) ss += x[r + i] * x[r + i];
            float inv = 1f / MathF.Sqrt((float)(ss / d) + eps);
            for (int i = 0; i < d; i++) y[r + i] = x[r + i] * inv * weight[i];
        }
    }

    /// <summary>
    /// Rotary position embedding in the GPT-NeoX layout (rotate_half): for each token and head, the pairs
    /// (i, i + headDim/2) are rotated by position * invFreq[i]. <paramref name="x"/> is tokens x heads x headDim.
    /// </summary>
    public static void Rope(Span<float> x, int numHeads, int headDim, ReadOnlySpan<int> positions, ReadOnlySpan<float> invFreq, float attentionScaling = 1f)
    {
        int half = headDim / 2;
        if (invFreq.Length != half) throw new ArgumentException("invFreq must have headDim / 2 entries.", nameof(invFreq));
        for (int t = 0; t < positions.Length; t++)
        {
            float pos = positions[t];
            for (int h = 0; h < numHeads; h++)
            {
                var v = x.Slice((t * numHeads + h) * headDim, headDim);
                for (int i = 0; i < half; i++)
                {
                    float f = pos * invFreq[i];
                    float c = MathF.Cos(f) * attentionScaling, s = MathF.Sin(f) * attentionScaling;
                    float a = v[i], b = v[i + half];
                    v[i] = a * c - b * s;
                    v[i + half] = b * c + a * s;
                }
            }
        }
    }

    /// <summary>y = silu(gate) * up, element-wise.</summary>
    public static void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++)
        {
            float g = gate[i];
            y[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    /// <summary>In-place numerically stable softmax.</summary>
    public static void Softmax(Span<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (var v in x) max = MathF.Max(max, v);
        float sum = 0;
        for (int i = 0; i < x.Length; i++) { x[i] = MathF.Exp(x[i] - max); sum += x[i]; }
        float inv = 1f / sum;
        for (int i = 0; i < x.Length; i++) x[i] *= inv;
    }

    /// <summary>Gathers rows of <paramref name="table"/> (vocab x hidden) for each id into <paramref name="y"/>.</summary>
    public static void Embedding(ReadOnlySpan<int> ids, in WeightMatrix table, Span<float> y)
    {
        int d = table.Cols;
        for (int t = 0; t < ids.Length; t++)
        {
            int id = ids[t];
            if ((uint)id >= (uint)table.Rows) throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary of {table.Rows}.");
            for (int i = 0; i < d; i++) y[t * d + i] = table[id, i];
        }
    }

    /// <summary>
    /// Writes each token's K and V rows (numKvHeads * headDim floats) into the paged cache at its slot
    /// (block * blockSize + offset). A negative slot means padding and is skipped.
    /// </summary>
    public static void WriteKv(ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<int> slotMapping, PagedKvLayer layer)
    {
        int w = layer.RowWidth;
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
        ReadOnlySpan<int> blockTables, int maxBlocksPerSeq, PagedKvLayer layer, float scale)
    {
        int hd = layer.HeadDim, nkv = layer.NumKvHeads, bs = layer.BlockSize;
        int group = numHeads / nkv;
        int numSeqs = contextLens.Length;
        int maxCtx = 0;
        for (int s = 0; s < numSeqs; s++) maxCtx = Math.Max(maxCtx, contextLens[s]);
        var scores = new float[maxCtx];
        for (int s = 0; s < numSeqs; s++)
        {
            int q0 = queryStarts[s], qLen = queryStarts[s + 1] - q0, ctx = contextLens[s];
            var table = blockTables.Slice(s * maxBlocksPerSeq, maxBlocksPerSeq);
            for (int j = 0; j < qLen; j++)
            {
                int visible = ctx - qLen + j + 1;
                for (int h = 0; h < numHeads; h++)
                {
                    int kvh = h / group;
                    var qv = q.Slice(((q0 + j) * numHeads + h) * hd, hd);
                    for (int p = 0; p < visible; p++)
                    {
                        int slot = table[p / bs] * bs + p % bs;
                        var kr = layer.KeyRow(slot).Slice(kvh * hd, hd);
                        float dot = 0;
                        for (int i = 0; i < hd; i++) dot += qv[i] * kr[i];
                        scores[p] = dot * scale;
                    }
                    Softmax(scores.AsSpan(0, visible));
                    var o = output.Slice(((q0 + j) * numHeads + h) * hd, hd);
                    o.Clear();
                    for (int p = 0; p < visible; p++)
                    {
                        int slot = table[p / bs] * bs + p % bs;
                        var vr = layer.ValueRow(slot).Slice(kvh * hd, hd);
                        float a = scores[p];
                        for (int i = 0; i < hd; i++) o[i] += a * vr[i];
                    }
                }
            }
        }
    }
}
