namespace PagedAttention.AI.Models;

/// <summary>
/// The flat inputs of one forward step over several sequences, as a model runner builds them from the scheduled
/// requests. Reused from step to step so that a step allocates nothing.
/// </summary>
internal sealed class ForwardBatch
{
    /// <summary>Allocates room for up to <paramref name="maxTokens"/> tokens in up to <paramref name="maxSeqs"/> sequences.</summary>
    public ForwardBatch(int maxTokens, int maxSeqs, int maxBlocksPerSeq)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxSeqs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBlocksPerSeq);
        MaxTokens = maxTokens;
        MaxSeqs = maxSeqs;
        MaxBlocksPerSeq = maxBlocksPerSeq;
        TokenIds = new int[maxTokens];
        Positions = new int[maxTokens];
        SlotMapping = new int[maxTokens];
        QueryStarts = new int[maxSeqs + 1];
        ContextLens = new int[maxSeqs];
        BlockTables = new int[maxSeqs * maxBlocksPerSeq];
    }

    /// <summary>Token capacity.</summary>
    public int MaxTokens { get; }
    /// <summary>Sequence capacity.</summary>
    public int MaxSeqs { get; }
    /// <summary>Row stride of <see cref="BlockTables"/>.</summary>
    public int MaxBlocksPerSeq { get; }

    /// <summary>Tokens in this step.</summary>
    public int NumTokens { get; set; }
    /// <summary>Sequences in this step.</summary>
    public int NumSeqs { get; set; }

    /// <summary>Input token ids, [MaxTokens].</summary>
    public int[] TokenIds { get; }
    /// <summary>Position of each token in its sequence, [MaxTokens].</summary>
    public int[] Positions { get; }
    /// <summary>KV-cache slot (block * blockSize + offset) each token's K/V is written to; -1 skips, [MaxTokens].</summary>
    public int[] SlotMapping { get; }
    /// <summary>Sequence s owns tokens [QueryStarts[s], QueryStarts[s+1]), [MaxSeqs + 1].</summary>
    public int[] QueryStarts { get; }
    /// <summary>Tokens in the KV cache of each sequence after this step, the new ones included, [MaxSeqs].</summary>
    public int[] ContextLens { get; }
    /// <summary>Block ids of sequence s at [s * MaxBlocksPerSeq ..], [MaxSeqs * MaxBlocksPerSeq].</summary>
    public int[] BlockTables { get; }

    /// <summary>Checks the batch is self-consistent before a forward pass reads it.</summary>
    internal void Validate(int vocabSize, int numBlocks, int blockSize)
    {
        if (NumSeqs <= 0 || NumSeqs > MaxSeqs) throw new InvalidOperationException($"NumSeqs {NumSeqs} is outside 1..{MaxSeqs}.");
        if (NumTokens <= 0 || NumTokens > MaxTokens) throw new InvalidOperationException($"NumTokens {NumTokens} is outside 1..{MaxTokens}.");
        if (QueryStarts[0] != 0 || QueryStarts[NumSeqs] != NumTokens) throw new InvalidOperationException("QueryStarts must start at 0 and end at NumTokens.");
        for (int s = 0; s < NumSeqs; s++)
        {
            int q = QueryStarts[s + 1] - QueryStarts[s];
            if (q <= 0) throw new InvalidOperationException($"Sequence {s} has no tokens in this step.");
            if (ContextLens[s] < q) throw new InvalidOperationException($"Sequence {s}: ContextLens {ContextLens[s]} is smaller than its {q} new tokens.");
            if ((ContextLens[s] + blockSize - 1) / blockSize > MaxBlocksPerSeq) throw new InvalidOperationException($"Sequence {s}: {ContextLens[s]} tokens need more than {MaxBlocksPerSeq} blocks.");
            for (int b = 0; b < (ContextLens[s] + blockSize - 1) / blockSize; b++)
            {
                int block = BlockTables[s * MaxBlocksPerSeq + b];
                if ((uint)block >= (uint)numBlocks) throw new InvalidOperationException($"Sequence {s}: block {block} is outside the cache of {numBlocks} blocks.");
            }
        }
        for (int t = 0; t < NumTokens; t++)
        {
            if ((uint)TokenIds[t] >= (uint)vocabSize) throw new ArgumentOutOfRangeException(nameof(TokenIds), TokenIds[t], $"Token id {TokenIds[t]} is outside the vocabulary of {vocabSize}.");
            if (SlotMapping[t] >= numBlocks * blockSize) throw new InvalidOperationException($"Slot {SlotMapping[t]} is outside the cache.");
        }
    }
}
