using System.Diagnostics;
using Microsoft.Extensions.AI;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using PagedAttention.Samples.Agents;

// Multi-agent sample: N agents share one byte-identical preamble (policy, documents, tool list) and differ only in
// their role and task. One engine serves them all concurrently; the preamble's KV blocks are computed once.
var options = SampleOptions.Parse(args);
if (options is null) return 1;
Console.WriteLine($"Model: {options.ModelPath}  device: {options.Device}  agents: {options.Agents}  max output tokens: {options.MaxTokens}");

var agents = AgentWorkload.Create(options.Agents);
var runs = new List<RunResult>();
foreach (var (label, prefixCaching, concurrent) in new[]
{
    ("concurrent, prefix cache on", true, true),
    ("concurrent, prefix cache off", false, true),
    ("serial, prefix cache off", false, false),
})
{
    await using var engine = await LlmEngine.LoadAsync(new EngineOptions
    {
        ModelPath = options.ModelPath,
        Device = options.Device,
        EnablePrefixCaching = prefixCaching,
        MaxNumSeqs = Math.Max(options.Agents, 1),
    });
    using IChatClient client = engine.AsChatClient();
    Console.WriteLine();
    Console.WriteLine($"== {label}");
    var run = await AgentRunner.RunAsync(label, client, agents, options, concurrent);
    runs.Add(run);
    if (runs.Count == 1) Report.PrintAgents(run, agents);
}
Console.WriteLine();
Report.PrintComparison(runs);
return 0;
