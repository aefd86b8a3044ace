using PagedAttention.AI.Models;

namespace GpuCheck;

/// <summary>Builds ForwardBatch steps for a set of sequences: one prefill of all prompts, then one-token decode steps.
/// Sequence s owns blocks [s * maxBlocks, (s + 1) * maxBlocks) in reverse order, so attention must follow the table.</summary>
internal sealed class Steps
{
    private readonly List<int>[] _tokens;
    private readonly int _blockSize, _maxBlocks;

    public Steps(IReadOnlyList<int[]> prompts, int blockSize, int maxTokensPerSeq)
    {
        _tokens = prompts.Select(p => p.ToList()).ToArray();
        _blockSize = blockSize;
        _maxBlocks = (maxTokensPerSeq + blockSize - 1) / blockSize;
        Batch = new ForwardBatch(prompts.Sum(p => p.Length) + prompts.Count, prompts.Count, _maxBlocks);
        for (int s = 0; s < prompts.Count; s++)
            for (int b = 0; b < _maxBlocks; b++) Batch.BlockTables[s * _maxBlocks + b] = s * _maxBlocks + (_maxBlocks - 1 - b);
        Processed = new int[prompts.Count];
    }

    public ForwardBatch Batch { get; }
    public int NumBlocks => _tokens.Length * _maxBlocks;
    public int[] Processed { get; }
    public IReadOnlyList<int> Tokens(int s) => _tokens[s];

    /// <summary>Fills the batch with every token not yet in the cache (the whole prompt at first, then the last one).</summary>
    public ForwardBatch Next()
    {
        var b = Batch;
        int t = 0;
        for (int s = 0; s < _tokens.Length; s++)
        {
            b.QueryStarts[s] = t;
            for (int p = Processed[s]; p < _tokens[s].Count; p++, t++)
            {
                b.TokenIds[t] = _tokens[s][p];
                b.Positions[t] = p;
                b.SlotMapping[t] = b.BlockTables[s * _maxBlocks + p / _blockSize] * _blockSize + p % _blockSize;
            }
            b.ContextLens[s] = _tokens[s].Count;
            Processed[s] = _tokens[s].Count;
        }
        b.QueryStarts[_tokens.Length] = t;
        b.NumTokens = t;
        b.NumSeqs = _tokens.Length;
        return b;
    }

    public void Append(ReadOnlySpan<int> next)
    {
        for (int s = 0; s < _tokens.Length; s++) _tokens[s].Add(next[s]);
    }
}
