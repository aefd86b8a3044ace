using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using PagedAttention.AI.Engine;

namespace PagedAttention.Samples.SemanticKernel;

/// <summary>The whole sample, writing to any <see cref="TextWriter"/> (the console, or a test's buffer).</summary>
internal static class SemanticKernelSample
{
    private static readonly string[] Questions =
    [
        "What did the county board vote on Monday night?",
        "What was the weather in Columbus on Monday?",
        "Why do the parents worry about the new high school?",
        "What does the railroad company want from the city?",
        "Why does the hospital need more doctors?",
        "When is the spring concert of the music society?",
        "How did the spring rain change the planting season?",
        "What should a reporter do when a fact is not known?",
    ];

    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken = default)
    {
        var options = SampleOptions.Parse(args, output);
        if (options is null) return 1;
        output.WriteLine($"Model: {options.ModelPath}  device: {options.Device}{(options.Quantize == WeightQuantization.None ? "" : $"  weights: {options.Quantize}")}  chat histories: {options.Histories}  max output tokens: {options.MaxTokens}");
        output.WriteLine("  loading the model and allocating the KV cache...");
        var sw = Stopwatch.StartNew();
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions
        {
            ModelPath = options.ModelPath,
            Device = options.Device,
            WeightQuantization = options.Quantize,
            MaxNumSeqs = Math.Max(options.Histories, 1),
            NumKvBlocks = options.KvBlocks,
        }, cancellationToken).ConfigureAwait(false);
        output.WriteLine($"  loaded in {sw.Elapsed.TotalSeconds:F1} s");

        // One engine behind both SK services: IChatCompletionService (what SK samples resolve) and IChatClient.
        var builder = Kernel.CreateBuilder();
        builder.AddPagedAttentionChatCompletion(engine);
        var kernel = builder.Build();
        var plugin = new CountyRecordsPlugin();
        kernel.Plugins.AddFromObject(plugin, "county");
        var chat = kernel.GetRequiredService<IChatCompletionService>();

        // Every history starts with the same instructions, byte for byte, so the engine computes their KV once and the
        // other histories read it from the prefix cache; only the question differs.
        string instructions = BuildInstructions();
        var settings = new PromptExecutionSettings
        {
            FunctionChoiceBehavior = FunctionChoiceBehavior.Auto(),
            ExtensionData = new Dictionary<string, object> { ["temperature"] = 0.7, ["top_p"] = 0.95, ["max_tokens"] = options.MaxTokens },
        };

        output.WriteLine();
        output.WriteLine($"== {options.Histories} chat histories with shared instructions, concurrently (FunctionChoiceBehavior.Auto, plugin 'county')");
        sw.Restart();
        var answers = await Task.WhenAll(Enumerable.Range(0, options.Histories).Select(async i =>
        {
            var history = new ChatHistory(instructions);
            history.AddUserMessage(Questions[i % Questions.Length]);
            var timer = Stopwatch.StartNew();
            var reply = await chat.GetChatMessageContentAsync(history, settings, kernel, cancellationToken).ConfigureAwait(false);
            return (Index: i, Reply: reply, Elapsed: timer.Elapsed);
        })).ConfigureAwait(false);
        var wall = sw.Elapsed;

        output.WriteLine($"{"history",-8} {"ms",6} {"input",6} {"cached",7} {"output",7}  text");
        long input = 0, cached = 0, outTokens = 0;
        foreach (var (i, reply, elapsed) in answers)
        {
            // SK's IChatClient adapter puts MEAI's UsageDetails under "Usage", the key SK's OpenAI connector uses.
            var usage = reply.Metadata?.TryGetValue("Usage", out var u) == true ? u as UsageDetails : null;
            input += usage?.InputTokenCount ?? 0;
            cached += usage?.CachedInputTokenCount ?? 0;
            outTokens += usage?.OutputTokenCount ?? 0;
            string text = (reply.Content ?? "").ReplaceLineEndings(" ").Trim();
            if (text.Length > 60) text = text[..57] + "...";
            output.WriteLine($"{$"#{i + 1}",-8} {elapsed.TotalMilliseconds,6:F0} {usage?.InputTokenCount ?? 0,6} {usage?.CachedInputTokenCount ?? 0,7} {usage?.OutputTokenCount ?? 0,7}  {text}");
        }
        output.WriteLine();
        output.WriteLine($"{options.Histories} histories in {wall.TotalSeconds:F2} s: {input} prompt tokens, {cached} of them from the prefix cache ({(input == 0 ? 0 : (double)cached / input):P0}), {outTokens} generated.");
        output.WriteLine(plugin.Calls > 0
            ? $"The model called the plugin {plugin.Calls} time(s); SK ran the functions and sent the results back."
            : "The model called no function in these histories (the plugin's functions were offered to it; the embedded default model calls tools for the task shapes it was trained on, docs/models.md).");

        // A prompt function with the same instructions as its system message (SK's <message> tags), so it too starts
        // with the cached prefix; its usage is in FunctionResult.Metadata, as with SK's OpenAI connector.
        string prompt = $"<message role=\"system\">{instructions}</message><message role=\"user\">Write one line about the roads.</message>";
        var result = await kernel.InvokePromptAsync(prompt, new KernelArguments(settings), cancellationToken: cancellationToken).ConfigureAwait(false);
        var promptUsage = result.Metadata?.TryGetValue("Usage", out var pu) == true ? pu as UsageDetails : null;
        output.WriteLine($"InvokePromptAsync: {promptUsage?.InputTokenCount ?? 0} prompt tokens, {promptUsage?.CachedInputTokenCount ?? 0} cached (FunctionResult.Metadata[\"Usage\"]).");
        return 0;
    }

    private static string BuildInstructions()
    {
        var sb = new StringBuilder();
        sb.AppendLine("You answer questions for the staff of the county paper. Write in plain English, in short sentences.");
        sb.AppendLine("When a record can answer the question, call the matching function instead of guessing.");
        sb.AppendLine("Do not make up names of people who live in the county. When a fact is not known, say so.");
        sb.AppendLine();
        sb.AppendLine("This week's documents:");
        string[] documents =
        [
            "The county board met on Monday night in the old court house and voted to spend more money on the roads and the schools, and less on the new water plant.",
            "The spring has been wet. The river rose higher than it has in ten years, and the farmers on the low land lost part of their first planting.",
            "The new high school will open in the fall, with twenty class rooms and a library. The parents want to know who will pay for the buses.",
            "The railroad company has asked the city for the right to build a second line along the river.",
            "The hospital needs more doctors and nurses, because the people of the county are getting older.",
            "The music society will give its spring concert in the church on Sunday.",
        ];
        for (int round = 0; round < 4; round++)
            foreach (string d in documents) sb.AppendLine(d);
        return sb.ToString();
    }
}
