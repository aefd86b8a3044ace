namespace PagedAttention.Samples.Agents;

/// <summary>Prints the per-agent table and the side-by-side comparison.</summary>
internal static class Report
{
    public static void PrintAgents(RunResult run, IReadOnlyList<Agent> agents)
    {
        Console.WriteLine();
        Console.WriteLine($"{"agent",-9} {"TTFT ms",8} {"input",6} {"cached",7} {"output",7}  text");
        foreach (var a in run.Agents)
        {
            string text = a.Text.ReplaceLineEndings(" ").Trim();
            if (text.Length > 60) text = text[..57] + "...";
            Console.WriteLine($"{a.Agent.Name,-9} {a.TimeToFirstToken.TotalMilliseconds,8:F0} {a.InputTokens,6} {a.CachedInputTokens,7} {a.OutputTokens,7}  {text}");
        }
    }

    public static void PrintComparison(IReadOnlyList<RunResult> runs)
    {
        Console.WriteLine($"{"",-30} {"wall s",8} {"out tok/s",10} {"mean TTFT ms",13} {"prefix hit",11}");
        foreach (var r in runs)
            Console.WriteLine($"{r.Label,-30} {r.Wall.TotalSeconds,8:F2} {r.OutputTokensPerSecond,10:F1} {r.MeanTimeToFirstToken.TotalMilliseconds,13:F0} {r.PrefixHitRate,10:P0}");
        if (runs.Count >= 3)
            Console.WriteLine($"\nShared engine with prefix caching: {runs[^1].Wall / runs[0].Wall:F1}x faster than serial, {runs[1].Wall / runs[0].Wall:F1}x faster than without prefix caching.");
    }
}
