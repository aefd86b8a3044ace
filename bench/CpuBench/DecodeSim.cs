using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;

namespace CpuBench;

/// <summary>
/// A kernel-level single-stream decode step of a Llama-shaped bf16 model, calling exactly the CpuOps sequence of
/// the forward pass (embedding, per layer RMSNorm, QKV, RoPE, KV write, paged attention, O, residual, RMSNorm,
/// gate/up, SiLU·mul, down, residual; final norm, LM head). Independent of the engine, so it measures the kernels.
/// </summary>
internal static unsafe class DecodeSim
{
    public static double[] Run(LlamaShape m, int rounds, int stepsPerRound, CpuWorkerPool pool, Func<double> beforeRound)
    {
        int h = m.Hidden, hd = m.HeadDim, qDim = m.Heads * hd, kvDim = m.KvHeads * hd, inter = m.Intermediate;
        var buffers = new List<NativeBuffer>();
        WeightMatrix Make(int rows, int cols)
        {
            var b = NativeBuffer.RandomWeights(DType.BF16, (long)rows * cols, (ulong)buffers.Count + 1);
            buffers.Add(b);
            return new WeightMatrix((nint)b.Pointer, DType.BF16, rows, cols);
        }
        try
        {
            var embed = Make(m.Vocab, h);
            var lmHead = Make(m.Vocab, h);
            var layers = new (WeightMatrix Q, WeightMatrix K, WeightMatrix V, WeightMatrix O, WeightMatrix Gate, WeightMatrix Up, WeightMatrix Down)[m.Layers];
            for (int l = 0; l < m.Layers; l++)
                layers[l] = (Make(qDim, h), Make(kvDim, h), Make(kvDim, h), Make(h, qDim), Make(inter, h), Make(inter, h), Make(h, inter));
            var norm = Enumerable.Repeat(1f, h).ToArray();
            var invFreq = Enumerable.Range(0, hd / 2).Select(i => (float)Math.Pow(10000, -2.0 * i / hd)).ToArray();
            const int blockSize = 16;
            int steps = rounds * stepsPerRound + 4;
            int maxBlocks = (steps + 2 + blockSize - 1) / blockSize;
            using var cache = new CpuKvCache(m.Layers, maxBlocks, blockSize, m.KvHeads, hd);
            var table = Enumerable.Range(0, maxBlocks).Reverse().ToArray(); // non-contiguous on purpose
            float[] hidden = new float[h], x = new float[h], q = new float[qDim], k = new float[kvDim], v = new float[kvDim];
            float[] attn = new float[qDim], gate = new float[inter], up = new float[inter], logits = new float[m.Vocab];
            int[] ids = [1], positions = [0], slot = [0], starts = [0, 1], ctx = [1];
            float scale = 1f / MathF.Sqrt(hd);
            var times = new double[steps];
            var ratios = new List<double>();
            double bandwidth = 0;
            for (int step = 0; step < steps; step++)
            {
                // Bandwidth is re-measured right before each round so that a busy shared machine affects both alike.
                if (step >= 4 && (step - 4) % stepsPerRound == 0) bandwidth = beforeRound();
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                positions[0] = step;
                slot[0] = table[step / blockSize] * blockSize + step % blockSize;
                ctx[0] = step + 1;
                CpuOps.Embedding(ids, embed, hidden);
                for (int l = 0; l < layers.Length; l++)
                {
                    var w = layers[l];
                    var kv = cache.Layer(l);
                    CpuOps.RmsNorm(hidden, norm, 1e-5f, x);
                    CpuOps.MatMul(x, 1, w.Q, q, pool);
                    CpuOps.MatMul(x, 1, w.K, k, pool);
                    CpuOps.MatMul(x, 1, w.V, v, pool);
                    CpuOps.Rope(q, m.Heads, hd, positions, invFreq);
                    CpuOps.Rope(k, m.KvHeads, hd, positions, invFreq);
                    CpuOps.WriteKv(k, v, slot, kv);
                    CpuOps.PagedAttention(q, attn, m.Heads, starts, ctx, table, maxBlocks, kv, scale, pool);
                    CpuOps.MatMul(attn, 1, w.O, x, pool);
                    CpuOps.Add(x, hidden);
                    CpuOps.RmsNorm(hidden, norm, 1e-5f, x);
                    CpuOps.MatMul(x, 1, w.Gate, gate, pool);
                    CpuOps.MatMul(x, 1, w.Up, up, pool);
                    CpuOps.SiluMul(gate, up, gate);
                    CpuOps.MatMul(gate, 1, w.Down, x, pool);
                    CpuOps.Add(x, hidden);
                }
                CpuOps.RmsNorm(hidden, norm, 1e-5f, x);
                CpuOps.MatMul(x, 1, lmHead, logits, pool);
                ids[0] = (int)((uint)System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits) % (uint)m.Vocab);
                times[step] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
                if (step >= 4 && (step - 3) % stepsPerRound == 0)
                {
                    // Per round: [step ms (median), bandwidth GB/s]; the first 4 steps are warm-up.
                    ratios.Add(Timing.Median(times[(step + 1 - stepsPerRound)..(step + 1)]));
                    ratios.Add(bandwidth);
                }
            }
            return ratios.ToArray();
        }
        finally
        {
            foreach (var b in buffers) b.Dispose();
        }
    }
}
