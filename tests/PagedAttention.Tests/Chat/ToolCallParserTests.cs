using System.Text.Json;
using Microsoft.Extensions.AI;
using PagedAttention.AI.Chat;

namespace PagedAttention.Tests.Chat;

public class ToolCallParserTests
{
    private static string Arg(FunctionCallContent c, string key) => ((JsonElement)c.Arguments![key]!).GetRawText();

    [Fact]
    public void HermesQwenBlocks()
    {
        string text = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 3}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";
        Assert.True(ToolCallParser.TryParse(text, out var lead, out var calls));
        Assert.Equal("Let me check.\n", lead);
        Assert.Equal(2, calls.Count);
        Assert.Equal("get_weather", calls[0].Name);
        Assert.Equal("\"Paris\"", Arg(calls[0], "city"));
        Assert.Equal("3", Arg(calls[0], "days"));
        Assert.Equal("get_time", calls[1].Name);
        Assert.Empty(calls[1].Arguments!);
        Assert.NotEqual(calls[0].CallId, calls[1].CallId);
    }

    [Fact]
    public void HermesUnclosedLastBlockAndStringArguments()
    {
        Assert.True(ToolCallParser.TryParse("<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"x\\\": [1, 2]}\"}", out _, out var calls));
        Assert.Equal("[1, 2]", Arg(Assert.Single(calls), "x"));
    }

    [Fact]
    public void Llama31JsonWithPythonTagAndSeveralCalls()
    {
        Assert.True(ToolCallParser.TryParse("<|python_tag|>{\"name\": \"search\", \"parameters\": {\"q\": \"dotnet\"}}; {\"name\": \"open\", \"parameters\": {\"id\": 7}}", out var lead, out var calls));
        Assert.Equal("", lead);
        Assert.Equal(["search", "open"], calls.Select(c => c.Name));
        Assert.Equal("7", Arg(calls[1], "id"));
    }

    [Fact]
    public void Llama32PlainJson()
    {
        Assert.True(ToolCallParser.TryParse("  {\"type\": \"function\", \"name\": \"add\", \"parameters\": {\"a\": 1, \"b\": 2}}\n", out _, out var calls));
        var c = Assert.Single(calls);
        Assert.Equal("add", c.Name);
        Assert.Equal(2, c.Arguments!.Count);
    }

    [Fact]
    public void MistralJsonListKeepsIds()
    {
        Assert.True(ToolCallParser.TryParse("[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}, \"id\": \"abcDEF123\"}]", out _, out var calls));
        var c = Assert.Single(calls);
        Assert.Equal("abcDEF123", c.CallId);
        Assert.Equal("\"Oslo\"", Arg(c, "city"));
    }

    [Fact]
    public void MistralNameArgsFormat()
    {
        Assert.True(ToolCallParser.TryParse("[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Rome\"}[TOOL_CALLS]get_time[ARGS]{}", out _, out var calls));
        Assert.Equal(["get_weather", "get_time"], calls.Select(c => c.Name));
        Assert.Equal(9, calls[0].CallId.Length);
    }

    [Theory]
    [InlineData("The weather is nice today.")]
    [InlineData("{\"not\": \"a call\"}")]
    [InlineData("<tool_call>{broken json</tool_call>")]
    [InlineData("[TOOL_CALLS] [1, 2]")]
    [InlineData("{\"name\": \"x\"} trailing prose")]
    public void PlainTextIsNotACall(string text)
    {
        Assert.False(ToolCallParser.TryParse(text, out var lead, out var calls));
        Assert.Empty(calls);
        Assert.Equal(text, lead);
    }
}
