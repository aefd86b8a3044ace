using System.Diagnostics;
using System.Text;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;

namespace PagedAttention.Samples.Agents;

/// <summary>What one agent got back.</summary>
internal sealed record AgentResult(Agent Agent, TimeSpan TimeToFirstToken, TimeSpan Total, long InputTokens, long CachedInputTokens, long OutputTokens, string Text);

/// <summary>One configuration's run over all agents.</summary>
internal sealed record RunResult(string Label, TimeSpan Wall, IReadOnlyList<AgentResult> Agents)
{
    public long OutputTokens => Agents.Sum(a => a.OutputTokens);
    public long InputTokens => Agents.Sum(a => a.InputTokens);
    public long CachedInputTokens => Agents.Sum(a => a.CachedInputTokens);
    public double OutputTokensPerSecond => OutputTokens / Wall.TotalSeconds;
    public double PrefixHitRate => InputTokens == 0 ? 0 : (double)CachedInputTokens / InputTokens;
    public TimeSpan MeanTimeToFirstToken => TimeSpan.FromTicks((long)Agents.Average(a => a.TimeToFirstToken.Ticks));
}

/// <summary>
/// Runs every agent as an Agent Framework <see cref="ChatClientAgent"/> over one <see cref="IChatClient"/>, concurrently
/// or one after another, with live progress.
/// </summary>
internal static class AgentRunner
{
    public static async Task<RunResult> RunAsync(string label, IChatClient client, IReadOnlyList<Agent> agents, SampleOptions options, bool concurrent, TextWriter output, CancellationToken cancellationToken)
    {
        long chunks = 0;
        int done = 0;
        var wall = Stopwatch.StartNew();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // A line rewritten in place on a terminal; elsewhere (redirected, a test's writer) a line every two seconds.
        bool live = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var progress = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                string line = $"  {Interlocked.Read(ref chunks),6} text chunks streamed, {Volatile.Read(ref done),3}/{agents.Count} agents done, {wall.Elapsed.TotalSeconds,6:F1} s";
                if (live) output.Write("\r" + line); else output.WriteLine(line);
                try { await Task.Delay(live ? 250 : 2000, stop.Token).ConfigureAwait(false); } catch (OperationCanceledException) { }
            }
        }, CancellationToken.None);

        async Task<AgentResult> RunOne(Agent agent, int index)
        {
            // Every agent's instructions are the same preamble, so every prompt starts with the same tokens; the role
            // and the task come after it, in the user turn.
            var chatAgent = new ChatClientAgent(client, instructions: AgentWorkload.Preamble, name: agent.Name);
            var runOptions = new ChatClientAgentRunOptions(new ChatOptions { Temperature = 0.8f, TopP = 0.95f, Seed = 1000 + index, MaxOutputTokens = options.MaxTokens });
            var sw = Stopwatch.StartNew();
            TimeSpan? ttft = null;
            var text = new StringBuilder();
            UsageDetails? usage = null;
            await foreach (var update in chatAgent.RunStreamingAsync($"You are {agent.Role}. {agent.Task}", session: null, runOptions, cancellationToken).ConfigureAwait(false))
            {
                foreach (var content in update.Contents)
                {
                    if (content is TextContent t && t.Text.Length > 0) { ttft ??= sw.Elapsed; text.Append(t.Text); Interlocked.Increment(ref chunks); }
                    else if (content is UsageContent u) usage = u.Details;
                }
            }
            Interlocked.Increment(ref done);
            return new AgentResult(agent, ttft ?? sw.Elapsed, sw.Elapsed, usage?.InputTokenCount ?? 0, usage?.CachedInputTokenCount ?? 0, usage?.OutputTokenCount ?? 0, text.ToString());
        }

        AgentResult[] results;
        try
        {
            if (concurrent) results = await Task.WhenAll(agents.Select(RunOne)).ConfigureAwait(false);
            else
            {
                results = new AgentResult[agents.Count];
                for (int i = 0; i < agents.Count; i++) results[i] = await RunOne(agents[i], i).ConfigureAwait(false);
            }
        }
        finally
        {
            wall.Stop();
            stop.Cancel();
            await progress.ConfigureAwait(false);
            if (live) output.WriteLine();
        }
        return new RunResult(label, wall.Elapsed, results);
    }
}
