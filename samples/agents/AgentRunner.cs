using System.Diagnostics;
using System.Text;
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

/// <summary>Runs every agent through one IChatClient, concurrently or one after another, with live progress.</summary>
internal static class AgentRunner
{
    public static async Task<RunResult> RunAsync(string label, IChatClient client, IReadOnlyList<Agent> agents, SampleOptions options, bool concurrent)
    {
        long tokens = 0;
        int done = 0;
        var wall = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource();
        var progress = Task.Run(async () =>
        {
            // Redirected output gets a line every two seconds instead of a line rewritten in place.
            bool redirected = Console.IsOutputRedirected;
            while (!cts.IsCancelled())
            {
                string line = $"  {Interlocked.Read(ref tokens),6} text chunks streamed, {Volatile.Read(ref done),3}/{agents.Count} agents done, {wall.Elapsed.TotalSeconds,6:F1} s";
                if (redirected) Console.WriteLine(line); else Console.Write("\r" + line);
                try { await Task.Delay(redirected ? 2000 : 250, cts.Token); } catch (OperationCanceledException) { }
            }
        });

        async Task<AgentResult> RunOne(Agent agent, int index)
        {
            var messages = new List<ChatMessage>
            {
                new(ChatRole.System, AgentWorkload.Preamble),
                new(ChatRole.User, $"You are {agent.Role}. {agent.Task}"),
            };
            var chatOptions = new ChatOptions { Temperature = 0.8f, TopP = 0.95f, Seed = 1000 + index, MaxOutputTokens = options.MaxTokens };
            var sw = Stopwatch.StartNew();
            TimeSpan? ttft = null;
            var text = new StringBuilder();
            UsageDetails? usage = null;
            await foreach (var update in client.GetStreamingResponseAsync(messages, chatOptions))
            {
                foreach (var content in update.Contents)
                {
                    if (content is TextContent t && t.Text.Length > 0) { ttft ??= sw.Elapsed; text.Append(t.Text); Interlocked.Increment(ref tokens); }
                    else if (content is UsageContent u) usage = u.Details;
                }
            }
            Interlocked.Increment(ref done);
            return new AgentResult(agent, ttft ?? sw.Elapsed, sw.Elapsed, usage?.InputTokenCount ?? 0, usage?.CachedInputTokenCount ?? 0, usage?.OutputTokenCount ?? 0, text.ToString());
        }

        AgentResult[] results;
        if (concurrent) results = await Task.WhenAll(agents.Select(RunOne));
        else
        {
            results = new AgentResult[agents.Count];
            for (int i = 0; i < agents.Count; i++) results[i] = await RunOne(agents[i], i);
        }
        wall.Stop();
        cts.Cancel();
        await progress;
        if (!Console.IsOutputRedirected) Console.WriteLine();
        return new RunResult(label, wall.Elapsed, results);
    }

    private static bool IsCancelled(this CancellationTokenSource cts) => cts.IsCancellationRequested;
}
