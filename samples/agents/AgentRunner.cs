using System.Diagnostics;
using System.Text;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;

namespace PagedAttention.Samples.Agents;

/// <summary>What one agent got back.</summary>
internal sealed record AgentResult(Agent Agent, TimeSpan TimeToFirstToken, TimeSpan Total, long InputTokens, long CachedInputTokens, long OutputTokens, string Text, IReadOnlyList<string> ToolCalls);

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
/// Runs every agent as an Agent Framework <see cref="ChatClientAgent"/> over one <see cref="IChatClient"/> wrapped in
/// <c>UseFunctionInvocation()</c> (so the model's tool calls run <see cref="AgentTools"/>' C# functions and the results go
/// back to it), concurrently or one after another, with live progress.
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

        using IChatClient invoking = new ChatClientBuilder(client).UseFunctionInvocation().Build();

        async Task<AgentResult> RunOne(Agent agent, int index)
        {
            // Every agent's instructions are the same preamble and every agent has the same tools, so every prompt
            // starts with the same tokens (the template puts the tool list into the system turn); the task comes
            // after them, in the user turn. Greedy: the three configurations give the same answers.
            var chatAgent = new ChatClientAgent(invoking, instructions: AgentWorkload.Preamble, name: agent.Name, tools: AgentTools.All);
            var runOptions = new ChatClientAgentRunOptions(new ChatOptions { Temperature = 0, MaxOutputTokens = options.MaxTokens });
            var sw = Stopwatch.StartNew();
            TimeSpan? ttft = null;
            var text = new StringBuilder();
            var calls = new List<string>();
            long input = 0, cached = 0, output = 0;
            await foreach (var update in chatAgent.RunStreamingAsync(agent.Task, session: null, runOptions, cancellationToken).ConfigureAwait(false))
            {
                foreach (var content in update.Contents)
                {
                    switch (content)
                    {
                        case TextContent t when t.Text.Length > 0:
                            ttft ??= sw.Elapsed;
                            text.Append(t.Text);
                            Interlocked.Increment(ref chunks);
                            break;
                        case FunctionCallContent call:
                            // The first token of a tool-calling answer is the call itself.
                            ttft ??= sw.Elapsed;
                            calls.Add(call.Name);
                            break;
                        case UsageContent u:
                            // One usage per model call: a tool round trip makes two.
                            input += u.Details.InputTokenCount ?? 0;
                            cached += u.Details.CachedInputTokenCount ?? 0;
                            output += u.Details.OutputTokenCount ?? 0;
                            break;
                    }
                }
            }
            Interlocked.Increment(ref done);
            return new AgentResult(agent, ttft ?? sw.Elapsed, sw.Elapsed, input, cached, output, text.ToString(), calls);
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
