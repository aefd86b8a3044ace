using System.Diagnostics;
using Microsoft.Extensions.AI;
using PagedAttention.AI;
using PagedAttention.AI.Engine;

namespace PagedAttention.Samples.Agents;

/// <summary>The whole sample, writing to any <see cref="TextWriter"/> (the console, or a test's buffer).</summary>
internal static class AgentsSample
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken = default)
    {
        var options = SampleOptions.Parse(args, output);
        if (options is null) return 1;
        output.WriteLine($"Model: {options.ModelPath}  device: {options.Device}{(options.Quantize == WeightQuantization.None ? "" : $"  weights: {options.Quantize}")}  agents: {options.Agents}  max output tokens: {options.MaxTokens}");

        var agents = AgentWorkload.Create(options.Agents);
        var runs = new List<RunResult>();
        LlmEngine? first = null;
        try
        {
            foreach (var (label, prefixCaching, concurrent) in new[]
            {
                ("concurrent, prefix cache on", true, true),
                ("concurrent, prefix cache off", false, true),
                ("serial, prefix cache off", false, false),
            })
            {
                output.WriteLine();
                output.WriteLine($"== {label}");
                var engine = await LoadAsync(options, prefixCaching, output, cancellationToken).ConfigureAwait(false);
                try
                {
                    using IChatClient client = engine.AsChatClient();
                    // With the prefix cache on, the shared preamble is pinned: computed once here and never evicted
                    // while the agents run, however much other traffic the pool sees.
                    PrefixPin? pin = null;
                    if (prefixCaching && client.GetService<PagedAttentionChatClient>() is { } paged)
                    {
                        pin = await paged.PinInstructionsAsync(AgentWorkload.Preamble, cancellationToken: cancellationToken).ConfigureAwait(false);
                        output.WriteLine($"  pinned the shared preamble: {pin.NumTokens} tokens in {pin.NumBlocks} KV blocks");
                    }
                    RunResult run;
                    try { run = await AgentRunner.RunAsync(label, client, agents, options, concurrent, output, cancellationToken).ConfigureAwait(false); }
                    finally { if (pin is not null) await pin.DisposeAsync().ConfigureAwait(false); }
                    runs.Add(run);
                    if (runs.Count == 1) Report.PrintAgents(run, output);
                }
                finally
                {
                    // The first engine (prefix cache on) stays loaded for the workflow at the end.
                    if (first is null) first = engine;
                    else await engine.DisposeAsync().ConfigureAwait(false);
                }
            }
            output.WriteLine();
            Report.PrintComparison(runs, output);

            if (options.Workflow)
            {
                output.WriteLine();
                output.WriteLine("== sequential workflow (Agent Framework): clerk -> support -> editor, prefix cache on");
                using IChatClient client = first!.AsChatClient();
                await WorkflowRunner.RunAsync(client, options, output, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            if (first is not null) await first.DisposeAsync().ConfigureAwait(false);
        }
        return 0;
    }

    /// <summary>Loads an engine and warms it up, saying so first: both take seconds that would otherwise look like a hang.</summary>
    private static async Task<LlmEngine> LoadAsync(SampleOptions options, bool prefixCaching, TextWriter output, CancellationToken cancellationToken)
    {
        output.WriteLine($"  loading the model and allocating the KV cache ({options.Device})...");
        var sw = Stopwatch.StartNew();
        var engine = await LlmEngine.LoadAsync(new EngineOptions
        {
            ModelPath = options.ModelPath,
            Device = options.Device,
            WeightQuantization = options.Quantize,
            EnablePrefixCaching = prefixCaching,
            MaxNumSeqs = Math.Max(options.Agents, 1),
            // A fixed block count instead of the cache size in bytes: the tests' short runs need only a few blocks.
            NumKvBlocks = options.KvBlocks,
        }, cancellationToken).ConfigureAwait(false);
        output.WriteLine($"  loaded in {sw.Elapsed.TotalSeconds:F1} s; warming up (first request compiles the code paths)...");
        sw.Restart();
        // A prompt unlike the agents' own, so the warm-up leaves nothing in the prefix cache that they could reuse.
        using (IChatClient warm = engine.AsChatClient())
            await warm.GetResponseAsync("Warm up.", new ChatOptions { Temperature = 0, MaxOutputTokens = 2 }, cancellationToken).ConfigureAwait(false);
        output.WriteLine($"  ready in {sw.Elapsed.TotalSeconds:F1} s");
        return engine;
    }
}
