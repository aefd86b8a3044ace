using PagedAttention.AI.Models;
using PagedAttention.AI.Scheduling;

namespace PagedAttention.AI.Engine;

/// <summary>Flattens a scheduled step into the model's <see cref="ForwardBatch"/> (reused; allocates nothing).</summary>
internal static class BatchBuilder
{
    public static void Build<TSeq>(SchedulerOutput<TSeq> output, ForwardBatch batch, int blockSize) where TSeq : ScheduledSequence
    {
        int t = 0, stride = batch.MaxBlocksPerSeq;
        for (int i = 0; i < output.Count; i++)
        {
            var seq = output.Seq(i);
            int n = output.NumTokens(i), start = seq.NumComputedTokens;
            var tokens = seq.Tokens;
            var blocks = seq.Table.Blocks;
            batch.QueryStarts[i] = t;
            for (int j = 0; j < n; j++, t++)
            {
                int pos = start + j;
                batch.TokenIds[t] = tokens[pos];
                batch.Positions[t] = pos;
                batch.SlotMapping[t] = blocks[pos / blockSize].Id * blockSize + pos % blockSize;
            }
            batch.ContextLens[i] = start + n;
            int row = i * stride;
            for (int b = 0; b < blocks.Count; b++) batch.BlockTables[row + b] = blocks[b].Id;
        }
        batch.QueryStarts[output.Count] = t;
        batch.NumTokens = t;
        batch.NumSeqs = output.Count;
    }
}
