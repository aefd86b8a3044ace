using PagedAttention.Samples.Agents;

// Multi-agent sample on Microsoft Agent Framework: N ChatClientAgents share one byte-identical preamble (policy,
// documents, tool list) as their instructions and differ only in their role and task. One engine serves them all
// concurrently; the preamble's KV blocks are computed once. Then a short sequential workflow over the same engine.
return await AgentsSample.RunAsync(args, Console.Out);
