using PagedAttention.AI.KvCache;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;
using PagedAttention.AI.Scheduling;

namespace PagedAttention.Tests.KvCache;

/// <summary>A scheduled sequence with its parameters and stop checker, as the engine builds them.</summary>
internal sealed class TestSeq(long id, int[] prompt, SamplingParams p, BlockHash root, int blockSize)
    : ScheduledSequence(id, 0, prompt, prompt.Length + p.MaxTokens, root, blockSize)
{
    public SamplingParams Params { get; } = p;

    public StopChecker Stop { get; } = new(p, [TestSeqs.Eos], prompt.Length + p.MaxTokens, detokenizer: null);

    /// <summary>Appends <paramref name="token"/> and asks the stop checker, as the engine does; returns the finish reason.</summary>
    public FinishReason? Append(int token)
    {
        AppendToken(token);
        return Stop.Check(token, NumOutputTokens, NumTokens, out _);
    }
}

internal static class TestSeqs
{
    public const int Eos = 2;

    private static long _nextId = 1000;

    public static int[] Range(int start, int count) => Enumerable.Range(start, count).ToArray();

    public static TestSeq Make(int[] prompt, int maxTokens = 16, string? salt = null, int blockSize = 16, SamplingParams? p = null, BlockHash? root = null) =>
        new(Interlocked.Increment(ref _nextId), prompt, p ?? new SamplingParams { MaxTokens = maxTokens, Temperature = 0 }, root ?? BlockHash.Root(salt), blockSize);

    public static int[] Ids(ScheduledSequence s) => s.Blocks.Select(b => b.Id).ToArray();

    // The caller's side of the KvCacheManager calls, as the scheduler makes them: the sequence's token counts go in,
    // and the sequence's computed-token count follows the table.
    public static int FindCachedPrefix(this KvCacheManager kv, ScheduledSequence s, List<KvBlock> hits, out bool pending) =>
        kv.FindCachedPrefix(s.Table, s.Tokens, hits, out pending);

    public static bool AllocateSlots(this KvCacheManager kv, ScheduledSequence s, int numNewTokens, List<KvBlock>? hits = null)
    {
        int numHits = hits?.Count ?? 0;
        if (!kv.AllocateSlots(s.Table, s.KnownTokens, s.NumTokens, s.NumComputedTokens, numNewTokens, hits)) return false;
        s.NumComputedTokens += numHits * kv.BlockSize;
        return true;
    }

    public static void CommitComputed(this KvCacheManager kv, ScheduledSequence s, int numNewTokens)
    {
        s.NumComputedTokens += numNewTokens;
        kv.CommitComputed(s.Table, s.NumComputedTokens);
    }

    public static void Free(this KvCacheManager kv, ScheduledSequence s)
    {
        kv.Free(s.Table);
        s.NumComputedTokens = 0;
    }
}
