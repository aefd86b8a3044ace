namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// Argument checks for <see cref="CpuOps.PagedAttention(ReadOnlySpan{float}, Span{float}, int, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, int, PagedKvLayer, float)"/>.
/// They run on the calling thread before dispatch, because an exception inside a pool task could not reach the caller
/// and the kernel reads the cache through raw pointers.
/// </summary>
internal static unsafe class AttentionArguments
{
    public static void Validate(
        ReadOnlySpan<float> q, Span<float> output, int numHeads, ReadOnlySpan<int> queryStarts, ReadOnlySpan<int> contextLens,
        ReadOnlySpan<int> blockTables, int maxBlocksPerSeq, PagedKvLayer layer)
    {
        if (layer.Keys == null || layer.Values == null) throw new ArgumentException("The KV layer is uninitialised.", nameof(layer));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numHeads);
        if (numHeads % layer.NumKvHeads != 0)
            throw new ArgumentException($"numHeads ({numHeads}) must be a multiple of the cache's KV heads ({layer.NumKvHeads}).", nameof(numHeads));
        int numSeqs = contextLens.Length;
        if (numSeqs == 0) return;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBlocksPerSeq);
        if (queryStarts.Length < numSeqs + 1) throw new ArgumentException("queryStarts needs contextLens.Length + 1 entries.", nameof(queryStarts));
        if (blockTables.Length < (long)numSeqs * maxBlocksPerSeq) throw new ArgumentException("blockTables is shorter than numSeqs * maxBlocksPerSeq.", nameof(blockTables));
        if (queryStarts[0] < 0) throw new ArgumentException("queryStarts[0] is negative.", nameof(queryStarts));
        int bs = layer.BlockSize;
        for (int s = 0; s < numSeqs; s++)
        {
            int qLen = queryStarts[s + 1] - queryStarts[s], ctx = contextLens[s];
            if (qLen < 0) throw new ArgumentException($"queryStarts decreases at sequence {s}.", nameof(queryStarts));
            if (qLen == 0) continue;
            if (ctx < qLen) throw new ArgumentException($"Sequence {s} has {qLen} query tokens but a context of only {ctx}.", nameof(contextLens));
            if (ctx > (long)maxBlocksPerSeq * bs) throw new ArgumentException($"Sequence {s}'s context of {ctx} does not fit in {maxBlocksPerSeq} blocks.", nameof(contextLens));
            int blocks = (ctx + bs - 1) / bs;
            var table = blockTables.Slice(s * maxBlocksPerSeq, blocks);
            foreach (int b in table)
                if ((uint)b >= (uint)layer.NumBlocks) throw new ArgumentOutOfRangeException(nameof(blockTables), b, $"Sequence {s} refers to block {b}, outside the cache of {layer.NumBlocks}.");
        }
        long need = (long)queryStarts[numSeqs] * numHeads * layer.HeadDim;
        if (q.Length < need) throw new ArgumentException("q is shorter than tokens * numHeads * headDim.", nameof(q));
        if (output.Length < need) throw new ArgumentException("output is shorter than tokens * numHeads * headDim.", nameof(output));
    }
}
