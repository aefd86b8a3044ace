namespace PagedAttention.Samples.Agents;

/// <summary>Prints the per-agent table and the side-by-side comparison.</summary>
internal static class Report
{
    public static void PrintAgents(RunResult run, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"{"agent",-9} {"TTFT ms",8} {"input",6} {"cached",7} {"output",7}  {"task",-58} {"tools called",-28} answer");
        foreach (var a in run.Agents)
        {
            string text = a.Text.ReplaceLineEndings(" ").Trim();
            if (text.Length > 70) text = text[..67] + "...";
            string task = a.Agent.Task.Length > 58 ? a.Agent.Task[..55] + "..." : a.Agent.Task;
            string tools = a.ToolCalls.Count == 0 ? "-" : string.Join(", ", a.ToolCalls);
            output.WriteLine($"{a.Agent.Name,-9} {a.TimeToFirstToken.TotalMilliseconds,8:F0} {a.InputTokens,6} {a.CachedInputTokens,7} {a.OutputTokens,7}  {task,-58} {tools,-28} {text}");
        }
        output.WriteLine("input / cached / output count every model call of an agent (a tool call and the answer after its result are two).");
    }

    public static void PrintComparison(IReadOnlyList<RunResult> runs, TextWriter output)
    {
        output.WriteLine($"{"",-30} {"wall s",8} {"out tok/s",10} {"mean TTFT ms",13} {"prefix hit",11}");
        foreach (var r in runs)
            output.WriteLine($"{r.Label,-30} {r.Wall.TotalSeconds,8:F2} {r.OutputTokensPerSecond,10:F1} {r.MeanTimeToFirstToken.TotalMilliseconds,13:F0} {r.PrefixHitRate,10:P0}");
        if (runs.Count >= 3)
            output.WriteLine($"\nShared engine with prefix caching: {runs[^1].Wall / runs[0].Wall:F1}x faster than serial, {runs[1].Wall / runs[0].Wall:F1}x faster than without prefix caching.");
        output.WriteLine();
        output.WriteLine("""
            Mean TTFT is each agent's own wait for its first token, timed from the moment it sent its request. Serial
            agents send theirs one after another, so the time an agent spent waiting for the previous ones is not in
            its TTFT: each request runs alone, and its prompt is the only work in every step. Concurrent agents all send
            at once and share each step's token budget, so a first token also waits for the other agents' prompts; the
            wall time is what the batch as a whole saves. The prefix cache cuts that shared prompt work to one copy of
            the preamble, which is why concurrent TTFT falls when it is on.
            """.TrimEnd());
        if (runs.Count >= 3)
        {
            var lowest = runs.MinBy(r => r.MeanTimeToFirstToken)!;
            output.WriteLine(ReferenceEquals(lowest, runs[^1])
                ? "In this run serial shows the lowest mean TTFT, for that reason."
                : $"In this run \"{lowest.Label}\" has the lowest mean TTFT: with the preamble cached, the concurrent prompts were small enough to beat even requests running alone.");
        }
    }
}
