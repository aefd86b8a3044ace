using System.Text.RegularExpressions;
using PagedAttention.Samples.Agents;
using PagedAttention.Samples.SemanticKernel;

namespace PagedAttention.Tests.Frameworks;

/// <summary>The two framework samples run end to end on the embedded default model, with short settings.</summary>
public sealed class SampleTests
{
    [Fact]
    public async Task AgentsSample_PrintsTheTablesAndRunsTheWorkflow()
    {
        var output = new StringWriter();
        int rc = await AgentsSample.RunAsync(["--agents", "2", "--max-tokens", "3", "--kv-blocks", "256"], output);
        string text = output.ToString();
        Assert.True(rc == 0, text);
        Assert.Contains("loading the model", text);
        Assert.Contains("warming up", text);
        foreach (string label in new[] { "concurrent, prefix cache on", "concurrent, prefix cache off", "serial, prefix cache off" })
            Assert.Contains("== " + label, text);
        Assert.Contains("mean TTFT ms", text);
        Assert.Contains("Mean TTFT is each agent's own wait", text); // the TTFT column is explained
        Assert.Contains("lowest mean TTFT", text);
        // The first run pins the preamble, so even the first agent reads it from the prefix cache.
        Assert.Matches(@"pinned the shared preamble: \d{4,} tokens", text);
        var agent1 = Regex.Match(text, @"^agent-01\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)", RegexOptions.Multiline);
        Assert.True(agent1.Success && int.Parse(agent1.Groups[2].Value) > 1000, agent1.Value);
        // The second agent of the first run reads the shared preamble from the prefix cache.
        var agent2 = Regex.Match(text, @"^agent-02\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)", RegexOptions.Multiline);
        Assert.True(agent2.Success, text);
        Assert.True(int.Parse(agent2.Groups[2].Value) > 1000, agent2.Value);
        // The workflow's steps, each with most of its prompt cached.
        foreach (string step in new[] { "clerk", "support", "editor" })
        {
            var m = Regex.Match(text, $@"^{step}\s+(\d+)\s+(\d+)\s+(\d+)", RegexOptions.Multiline);
            Assert.True(m.Success, $"{step} missing:\n{text}");
            Assert.True(int.Parse(m.Groups[2].Value) > 1000, m.Value);
        }
    }

    [Fact]
    public async Task SemanticKernelSample_AnswersConcurrentHistoriesFromTheSharedPrefix()
    {
        var output = new StringWriter();
        int rc = await SemanticKernelSample.RunAsync(["--histories", "3", "--max-tokens", "3", "--kv-blocks", "256"], output);
        string text = output.ToString();
        Assert.True(rc == 0, text);
        Assert.Contains("FunctionChoiceBehavior.Auto", text);
        var rows = Regex.Matches(text, @"^#\d+\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)", RegexOptions.Multiline);
        Assert.Equal(3, rows.Count);
        Assert.True(rows.Sum(r => int.Parse(r.Groups[2].Value)) > 1000, text); // at least two histories hit the cache
        var prompt = Regex.Match(text, @"InvokePromptAsync: (\d+) prompt tokens, (\d+) cached");
        Assert.True(prompt.Success && int.Parse(prompt.Groups[2].Value) > 0, text);
    }
}
