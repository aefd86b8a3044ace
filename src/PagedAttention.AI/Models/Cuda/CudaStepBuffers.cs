using PagedAttention.Kernels.Cuda;

namespace PagedAttention.AI.Models.Cuda;

/// <summary>
/// Device activations for steps of up to <see cref="Tokens"/> tokens in <see cref="Seqs"/> sequences, and the pinned
/// staging buffer for the step's integer inputs. Grown (never shrunk) when a larger step arrives.
/// </summary>
internal sealed class CudaStepBuffers : IDisposable
{
    // fp8: also the FP8 activation codes and per-row scales (W8A8 layers).
    public CudaStepBuffers(CudaDevice d, ModelConfig c, int tokens, int seqs, int maxBlocksPerSeq, bool fp8 = false)
    {
        Tokens = tokens;
        Seqs = seqs;
        MaxBlocksPerSeq = maxBlocksPerSeq;
        int qDim = c.NumHeads * c.HeadDim, qkvDim = qDim + 2 * c.NumKvHeads * c.HeadDim, h = c.HiddenSize, inter = c.IntermediateSize;
        IntCount = 3 * tokens + (seqs + 1) + seqs + seqs * maxBlocksPerSeq;
        try
        {
            Ints = d.Allocate(IntCount * 4L);
            Staging = new PinnedHostBuffer(d, Math.Max(IntCount * 4L, (long)seqs * c.VocabSize * 4));
            Hidden = d.Allocate((long)tokens * h * 4);
            X = d.Allocate((long)tokens * Math.Max(h, qDim) * 2);
            Qkv = d.Allocate((long)tokens * qkvDim * 2); // bf16 GEMM output
            Q = d.Allocate((long)tokens * qDim * 4);
            Delta = d.Allocate((long)tokens * h * 4);
            GateUp = d.Allocate((long)tokens * 2 * inter * 2); // bf16 GEMM output
            Act = d.Allocate((long)tokens * inter * 2);
            Last = d.Allocate((long)seqs * h * 2);
            Logits = d.Allocate((long)seqs * c.VocabSize * 4);
            Ids = d.Allocate(seqs * 4L);
            if (fp8)
            {
                ActCodes = d.Allocate((long)tokens * Math.Max(Math.Max(h, qDim), inter)); // E4M3 input of every FP8 GEMM
                ActScales = d.Allocate(tokens * 4L);
            }
        }
        catch
        {
            Dispose(); // what was allocated before the failure (the rest is still null)
            throw;
        }
    }

    public int Tokens { get; }
    public int Seqs { get; }
    public int MaxBlocksPerSeq { get; }
    public int IntCount { get; }

    /// <summary>[ids | positions | slots | queryStarts | contextLens | blockTables], one upload per step.</summary>
    public DeviceBuffer Ints { get; }
    public PinnedHostBuffer Staging { get; }
    public DeviceBuffer Hidden { get; }
    public DeviceBuffer X { get; }
    public DeviceBuffer Qkv { get; }
    public DeviceBuffer Q { get; }
    public DeviceBuffer Delta { get; }
    public DeviceBuffer GateUp { get; }
    public DeviceBuffer Act { get; }
    public DeviceBuffer Last { get; }
    public DeviceBuffer Logits { get; }
    public DeviceBuffer Ids { get; }
    public DeviceBuffer? AttentionWorkspace { get; set; }

    /// <summary>FP8 layers only: a GEMM input as E4M3 codes [tokens, k] and its fp32 scale per row.</summary>
    public DeviceBuffer? ActCodes { get; }
    public DeviceBuffer? ActScales { get; }

    public ulong TokenIds => Ints.Ptr;
    public ulong Positions => Ints.Ptr + (ulong)Tokens * 4;
    public ulong Slots => Ints.Ptr + (ulong)Tokens * 8;
    public ulong QueryStarts => Ints.Ptr + (ulong)Tokens * 12;
    public ulong ContextLens => QueryStarts + (ulong)(Seqs + 1) * 4;
    public ulong BlockTables => ContextLens + (ulong)Seqs * 4;

    public bool Fits(int tokens, int seqs, int maxBlocksPerSeq) => tokens <= Tokens && seqs <= Seqs && maxBlocksPerSeq == MaxBlocksPerSeq;

    /// <summary>
    /// The block-table row stride for a step: the most blocks any of its sequences uses, rounded up to a power of two
    /// (so that decode graphs are reused across steps) and capped at <see cref="MaxBlocksPerSeq"/>. Only these columns
    /// are staged and uploaded: a model with 128k positions would otherwise move seqs × 8,192 ints every step.
    /// </summary>
    public int TableStride(ForwardBatch b, int blockSize) => TableStride(b.ContextLens.AsSpan(0, b.NumSeqs), blockSize, MaxBlocksPerSeq);

    /// <summary>The stride rule of <see cref="TableStride(ForwardBatch, int)"/> for the given context lengths.</summary>
    internal static int TableStride(ReadOnlySpan<int> contextLens, int blockSize, int maxBlocksPerSeq)
    {
        int used = 1;
        foreach (int len in contextLens) used = Math.Max(used, (len + blockSize - 1) / blockSize);
        int stride = 8;
        while (stride < used) stride <<= 1;
        return Math.Min(stride, maxBlocksPerSeq);
    }

    /// <summary>
    /// Copies the batch's integer inputs into the pinned buffer at this layout, the block table compacted to
    /// <paramref name="stride"/> columns, and queues the upload of what is used.
    /// </summary>
    public void Stage(ForwardBatch b, int stride)
    {
        int n = b.NumTokens, s = b.NumSeqs;
        var all = Staging.AsSpan<int>(0, IntCount);
        b.TokenIds.AsSpan(0, n).CopyTo(all);
        b.Positions.AsSpan(0, n).CopyTo(all[Tokens..]);
        b.SlotMapping.AsSpan(0, n).CopyTo(all[(2 * Tokens)..]);
        b.QueryStarts.AsSpan(0, s + 1).CopyTo(all[(3 * Tokens)..]);
        b.ContextLens.AsSpan(0, s).CopyTo(all[(3 * Tokens + Seqs + 1)..]);
        int tables = 3 * Tokens + 2 * Seqs + 1;
        CopyTables(b, s, stride, all[tables..]);
        Staging.CopyToDeviceAsync(Ints, (tables + (long)s * stride) * 4);
    }

    /// <summary>
    /// Stages a decode batch (one token per sequence) padded to <paramref name="padded"/> sequences: padding rows read
    /// one key of block 0, write no K/V (slot −1) and their logits are ignored.
    /// </summary>
    public void StagePadded(ForwardBatch b, int padded, int stride)
    {
        int s = b.NumSeqs;
        var all = Staging.AsSpan<int>(0, IntCount);
        b.TokenIds.AsSpan(0, s).CopyTo(all);
        all.Slice(s, padded - s).Clear();
        b.Positions.AsSpan(0, s).CopyTo(all[Tokens..]);
        all.Slice(Tokens + s, padded - s).Clear();
        b.SlotMapping.AsSpan(0, s).CopyTo(all[(2 * Tokens)..]);
        all.Slice(2 * Tokens + s, padded - s).Fill(-1);
        var qs = all.Slice(3 * Tokens, padded + 1);
        for (int i = 0; i <= padded; i++) qs[i] = i;
        b.ContextLens.AsSpan(0, s).CopyTo(all[(3 * Tokens + Seqs + 1)..]);
        all.Slice(3 * Tokens + Seqs + 1 + s, padded - s).Fill(1);
        int tables = 3 * Tokens + 2 * Seqs + 1;
        CopyTables(b, s, stride, all[tables..]);
        all.Slice(tables + s * stride, (padded - s) * stride).Clear();
        Staging.CopyToDeviceAsync(Ints, (tables + (long)padded * stride) * 4);
    }

    // Row i's first min(stride, used) entries; columns past a sequence's last block are never read by the kernels.
    private void CopyTables(ForwardBatch b, int seqs, int stride, Span<int> dst)
    {
        if (stride == b.MaxBlocksPerSeq)
        {
            b.BlockTables.AsSpan(0, seqs * stride).CopyTo(dst);
            return;
        }
        for (int i = 0; i < seqs; i++)
            b.BlockTables.AsSpan(i * b.MaxBlocksPerSeq, stride).CopyTo(dst.Slice(i * stride, stride));
    }

    public void Dispose()
    {
        foreach (var b in new IDisposable?[] { Ints, Staging, Hidden, X, Qkv, Q, Delta, GateUp, Act, Last, Logits, Ids, AttentionWorkspace, ActCodes, ActScales }) b?.Dispose();
    }
}
