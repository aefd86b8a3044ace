using PagedAttention.AI.KvCache;
using PagedAttention.AI.Sampling;
using PagedAttention.AI.Scheduling;

namespace PagedAttention.Tests.KvCache;

internal static class TestSeqs
{
    private static long _nextId = 1000;

    public static int[] Range(int start, int count) => Enumerable.Range(start, count).ToArray();

    public static Sequence Make(int[] prompt, int maxTokens = 16, string? salt = null, int blockSize = 16, SamplingParams? p = null, BlockHash? root = null) =>
        new(Interlocked.Increment(ref _nextId), 0, prompt, p ?? new SamplingParams { MaxTokens = maxTokens, Temperature = 0 },
            root ?? BlockHash.Root(salt), prompt.Length + (p?.MaxTokens ?? maxTokens), blockSize);

    public static int[] Ids(Sequence s) => s.Blocks.Select(b => b.Id).ToArray();
}
