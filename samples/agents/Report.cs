namespace PagedAttention.Samples.Agents;

/// <summary>Prints the per-agent table and the side-by-side comparison.</summary>
internal static class Report
{
    public static void PrintAgents(RunResult run, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"{"agent",-9} {"TTFT ms",8} {"input",6} {"cached",7} {"output",7}  text");
        foreach (var a in run.Agents)
        {
            string text = a.Text.ReplaceLineEndings(" ").Trim();
            if (text.Length > 60) text = text[..57] + "...";
            output.WriteLine($"{a.Agent.Name,-9} {a.TimeToFirstToken.TotalMilliseconds,8:F0} {a.InputTokens,6} {a.CachedInputTokens,7} {a.OutputTokens,7}  {text}");
        }
    }

    public static void PrintComparison(IReadOnlyList<RunResult> runs, TextWriter output)
    {
        output.WriteLine($"{"",-30} {"wall s",8} {"out tok/s",10} {"mean TTFT ms",13} {"prefix hit",11}");
        foreach (var r in runs)
            output.WriteLine($"{r.Label,-30} {r.Wall.TotalSeconds,8:F2} {r.OutputTokensPerSecond,10:F1} {r.MeanTimeToFirstToken.TotalMilliseconds,13:F0} {r.PrefixHitRate,10:P0}");
        if (runs.Count >= 3)
            output.WriteLine($"\nShared engine with prefix caching: {runs[^1].Wall / runs[0].Wall:F1}x faster than serial, {runs[1].Wall / runs[0].Wall:F1}x faster than without prefix caching.");
        output.WriteLine("""

            Mean TTFT is each agent's own wait for its first token, from the moment it sent its request. Serial shows the
            lowest because each request runs alone: its prompt is the only work in every step. Concurrent agents all
            arrive at once and share each step's token budget, so an agent's first token waits for the others' prompts
            too (the wall time is what the whole batch saves). The prefix cache cuts that shared prompt work to one copy
            of the preamble, which is why concurrent TTFT drops when it is on.
            """);
    }
}
