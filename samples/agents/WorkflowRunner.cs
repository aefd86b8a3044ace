using System.Text;
using Microsoft.Agents.AI;
using Microsoft.Agents.AI.Workflows;
using Microsoft.Extensions.AI;

namespace PagedAttention.Samples.Agents;

/// <summary>
/// A short sequential Agent Framework workflow over the same engine: each agent sees the conversation so far, and
/// all of them start with the shared preamble, so each step's prompt is served mostly from the prefix cache.
/// </summary>
internal static class WorkflowRunner
{
    private static readonly (string Name, string Role)[] Steps =
    [
        ("clerk", "You are the order clerk: answer the customer's question from the document."),
        ("support", "You are the support desk: add when support is open."),
        ("editor", "You are the editor: say in one sentence what the answer should change."),
    ];

    public static async Task RunAsync(IChatClient client, SampleOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var agents = Steps.Select(s => (AIAgent)new ChatClientAgent(client, new ChatClientAgentOptions
        {
            Name = s.Name,
            // The preamble first and byte-identical, the role after it: the step-specific text never breaks the shared prefix.
            ChatOptions = new ChatOptions { Instructions = AgentWorkload.Preamble + "\n" + s.Role, Temperature = 0, MaxOutputTokens = options.MaxTokens },
        })).ToList();
        var workflow = AgentWorkflowBuilder.BuildSequential(agents);

        List<ChatMessage> input = [new(ChatRole.User, "What is the status of order A60456?")];
        await using StreamingRun run = await InProcessExecution.RunStreamingAsync(workflow, input, cancellationToken: cancellationToken).ConfigureAwait(false);
        // Agents in a workflow collect messages until they are given the turn.
        await run.TrySendMessageAsync(new TurnToken(emitEvents: true)).ConfigureAwait(false);

        output.WriteLine($"{"step",-11} {"input",6} {"cached",7} {"output",7}  text");
        var text = new StringBuilder();
        string? current = null;
        UsageDetails? usage = null;
        void Flush()
        {
            if (current is null) return;
            string t = text.ToString().ReplaceLineEndings(" ").Trim();
            if (t.Length > 60) t = t[..57] + "...";
            output.WriteLine($"{current,-11} {usage?.InputTokenCount ?? 0,6} {usage?.CachedInputTokenCount ?? 0,7} {usage?.OutputTokenCount ?? 0,7}  {t}");
            text.Clear();
            usage = null;
        }
        await foreach (WorkflowEvent evt in run.WatchStreamAsync(cancellationToken).ConfigureAwait(false))
        {
            switch (evt)
            {
                case AgentResponseUpdateEvent e:
                    string name = e.Update.AuthorName ?? e.ExecutorId;
                    if (name != current) { Flush(); current = name; }
                    foreach (var content in e.Update.Contents)
                    {
                        if (content is TextContent t) text.Append(t.Text);
                        else if (content is UsageContent u) usage = u.Details;
                    }
                    break;
                case WorkflowErrorEvent error:
                    throw new InvalidOperationException("The workflow failed.", error.Exception);
                case ExecutorFailedEvent failed:
                    throw new InvalidOperationException($"Workflow step {failed.ExecutorId} failed.", failed.Data);
                case WorkflowOutputEvent:
                    Flush();
                    return;
            }
        }
        Flush();
    }
}
