using System.Text;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.Bench.ScaleOut;

/// <summary>One chat request of the workload: its agent group, the group's preamble (system message) and a question.</summary>
internal sealed record AgentRequest(int Index, int Group, string System, string User);

/// <summary>
/// The agent-group workload: <c>groups</c> preambles of about <c>preambleTokens</c> tokens each (seeded filler text,
/// sized with the model's tokenizer), <c>perGroup</c> requests per group, interleaved in a seeded random order.
/// Each phase gets its own preambles (the phase name is their first words), so no phase finds another's in a cache.
/// </summary>
internal static class Workload
{
    private static readonly string[] Words =
    [
        "the", "agent", "policy", "must", "always", "check", "order", "customer", "refund", "within", "days", "of", "and",
        "never", "share", "account", "details", "with", "anyone", "who", "cannot", "verify", "their", "identity", "first",
        "escalate", "to", "a", "human", "when", "amount", "exceeds", "limit", "record", "every", "step", "in", "ticket",
        "use", "tool", "lookup", "before", "answer", "be", "brief", "polite", "clear", "explain", "reason", "document",
        "section", "rule", "shipping", "returns", "warranty", "invoice", "payment", "card", "bank", "transfer", "delay",
        "weather", "store", "hours", "holiday", "price", "discount", "coupon", "code", "expired", "valid", "region",
        "language", "summary", "table", "list", "item", "quantity", "stock", "supplier", "contract", "term", "notice",
    ];

    /// <summary>Builds the requests of one phase.</summary>
    public static List<AgentRequest> Create(string phase, int groups, int perGroup, int preambleTokens, Tokenizer tokenizer, int seed)
    {
        var preambles = Enumerable.Range(0, groups).Select(g => Preamble(phase, g, preambleTokens, tokenizer, seed)).ToArray();
        // Interleaved arrival: a seeded random order of the groups' turns (each group's requests stay in their own
        // order). Not a fixed cycle g0..g7: with 8 groups over 4 replicas a cycle would make round-robin send every
        // group to one replica by accident (request i to replica i mod 4, group i mod 8).
        var turns = Enumerable.Range(0, groups).SelectMany(g => Enumerable.Repeat(g, perGroup)).ToArray();
        new Random(seed).Shuffle(turns);
        var rounds = new int[groups];
        var requests = new List<AgentRequest>(groups * perGroup);
        foreach (var g in turns)
        {
            var round = rounds[g]++;
            requests.Add(new AgentRequest(requests.Count, g, preambles[g], $"Request {round} for group {g}: summarise the rule about item {round * 7 + g}."));
        }

        return requests;
    }

    private static string Preamble(string phase, int group, int tokens, Tokenizer tokenizer, int seed)
    {
        var random = new Random(unchecked(seed * 7919 + group * 104729 + phase.Sum(c => c * 31)));
        var text = new StringBuilder($"[{phase}] You are agent {group} of the support team. Follow this policy document exactly.\n");
        while (true)
        {
            for (var i = 0; i < 40; i++)
            {
                text.Append(Words[random.Next(Words.Length)]).Append(i % 12 == 11 ? ".\n" : " ");
            }

            if (tokenizer.Encode(text.ToString(), addSpecialTokens: false).Length >= tokens)
            {
                return text.ToString();
            }
        }
    }
}
