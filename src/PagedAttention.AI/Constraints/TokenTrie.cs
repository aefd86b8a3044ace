namespace PagedAttention.AI.Constraints;

/// <summary>
/// The vocabulary's token byte strings as a DFS-flattened trie (llguidance's toktrie): node i's subtree is
/// nodes i..i+SubtreeSize-1, so a walk that rejects a byte skips the whole subtree with one add. One ulong per node:
/// byte (8 bits) | depth (10) | token id + 1 (22; 0 = no token ends here) | subtree size (24). There is no root node:
/// the first-level nodes have depth 1. Tokens with the same bytes (e.g. Llama-2's "▁" and "&lt;0x20&gt;") share a
/// node; the others are kept in <see cref="Duplicates"/> and copied after the walk.
/// </summary>
internal sealed class TokenTrie
{
    public const int MaxTokenBytes = 1023;

    private TokenTrie(ulong[] nodes, (int Primary, int Duplicate)[] dups, int maxDepth)
    {
        Nodes = nodes;
        Duplicates = dups;
        MaxDepth = maxDepth;
    }

    public ulong[] Nodes { get; }

    public (int Primary, int Duplicate)[] Duplicates { get; }

    public int MaxDepth { get; }

    public static byte ByteOf(ulong n) => (byte)n;

    public static int DepthOf(ulong n) => (int)(n >> 8) & 0x3FF;

    public static int TokenOf(ulong n) => (int)((n >> 18) & 0x3FFFFF) - 1;

    public static int SubtreeOf(ulong n) => (int)(n >> 40);

    /// <summary>Builds the trie from (token id, bytes) pairs; empty byte strings and over-long tokens are left out.</summary>
    public static TokenTrie Build(IReadOnlyList<(int Id, byte[] Bytes)> tokens)
    {
        var list = tokens.Where(t => t.Bytes.Length is > 0 and <= MaxTokenBytes).ToList();
        list.Sort((a, b) => { int c = a.Bytes.AsSpan().SequenceCompareTo(b.Bytes); return c != 0 ? c : a.Id.CompareTo(b.Id); });
        var nodes = new List<ulong>(list.Count * 2);
        var dups = new List<(int, int)>();
        var path = new List<int>(); // node index per depth-1
        byte[] prev = [];
        int prevToken = -1, maxDepth = 0;
        foreach (var (id, bytes) in list)
        {
            if (bytes.AsSpan().SequenceEqual(prev)) { dups.Add((prevToken, id)); continue; }
            int common = 0;
            while (common < prev.Length && common < bytes.Length && prev[common] == bytes[common]) common++;
            path.RemoveRange(common, path.Count - common);
            for (int d = common; d < bytes.Length; d++)
            {
                path.Add(nodes.Count);
                nodes.Add(bytes[d] | (ulong)(d + 1) << 8);
            }
            int last = path[^1];
            nodes[last] |= (ulong)(id + 1) << 18;
            prev = bytes;
            prevToken = id;
            maxDepth = Math.Max(maxDepth, bytes.Length);
        }
        // Subtree sizes: a node's subtree ends where the next node of depth <= its own begins.
        var arr = nodes.ToArray();
        var stack = new Stack<int>();
        for (int i = 0; i <= arr.Length; i++)
        {
            int depth = i < arr.Length ? DepthOf(arr[i]) : 0;
            while (stack.Count > 0 && DepthOf(arr[stack.Peek()]) >= depth)
            {
                int j = stack.Pop();
                arr[j] |= (ulong)(i - j) << 40;
            }
            if (i < arr.Length) stack.Push(i);
        }
        return new TokenTrie(arr, dups.ToArray(), maxDepth);
    }
}
