using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using PagedAttention.AI.Chat.StructuredOutput;
using PagedAttention.Tests.Engine;

namespace PagedAttention.Tests.Chat;

/// <summary>How ChatOptions map to what is constrained (before any grammar exists), and the trigger wrapper.</summary>
public sealed class ConstraintPlanTests
{
    private static readonly AIFunction Weather = AIFunctionFactory.Create((string city, int days) => $"{city}:{days}", "get_weather");
    private static readonly AIFunction Time = AIFunctionFactory.Create((string zone) => zone, "get_time");

    [Fact]
    public void NothingToConstrain_GivesNoPlan()
    {
        Assert.Null(ConstraintPlan.For(null, ToolCallFormat.Hermes));
        Assert.Null(ConstraintPlan.For(new ChatOptions(), ToolCallFormat.Hermes));
        Assert.Null(ConstraintPlan.For(new ChatOptions { ResponseFormat = ChatResponseFormat.Text }, ToolCallFormat.Hermes));
        Assert.Null(ConstraintPlan.For(new ChatOptions { Tools = [Weather], ToolMode = ChatToolMode.None }, ToolCallFormat.Hermes));
        Assert.Null(ConstraintPlan.For(new ChatOptions { Tools = [Weather] }, ToolCallFormat.Llama)); // no opening marker to trigger on
    }

    [Fact]
    public void JsonWithoutSchema_IsAnyObject_WithAHint()
    {
        var plan = ConstraintPlan.For(new ChatOptions { ResponseFormat = ChatResponseFormat.Json }, ToolCallFormat.Hermes)!;
        Assert.Null(plan.Schema);
        Assert.Equal(("", "", (string?)null), (plan.Prefix, plan.Suffix, plan.Trigger));
        Assert.Equal("Respond with a JSON object.", plan.Hint);
    }

    [Fact]
    public void JsonSchema_IsCarried_AndShownToTheModel()
    {
        var schema = JsonDocument.Parse("""{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}""").RootElement;
        var plan = ConstraintPlan.For(new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, "Thing", "a thing") }, ToolCallFormat.Hermes)!;
        var strict = JsonNode.Parse(schema.GetRawText())!;
        strict["additionalProperties"] = false; // strict mode: listed properties only, integers in 64 bits
        strict["properties"]!["a"]!["minimum"] = long.MinValue;
        strict["properties"]!["a"]!["maximum"] = long.MaxValue;
        Assert.True(JsonNode.DeepEquals(strict, plan.Schema));
        Assert.Contains("'Thing'", plan.Description);
        Assert.Contains("(a thing)", plan.Hint);
        Assert.Contains("\"required\":[\"a\"]", plan.Hint);
        var bad = JsonDocument.Parse("[1]").RootElement;
        Assert.Throws<ArgumentException>(() => ConstraintPlan.For(new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(bad) }, ToolCallFormat.Hermes));
    }

    [Fact]
    public void RequireSpecific_IsTheNativeWrapperAroundConstNameAndTheToolsParameters()
    {
        var plan = ConstraintPlan.For(new ChatOptions { Tools = [Weather, Time], ToolMode = ChatToolMode.RequireSpecific("get_weather") }, ToolCallFormat.Hermes)!;
        Assert.Equal("<tool_call>\n", plan.Prefix);
        Assert.Equal("\n</tool_call>", plan.Suffix);
        Assert.Null(plan.Trigger);
        var s = plan.Schema!.AsObject();
        Assert.Equal("get_weather", (string?)s["properties"]!["name"]!["const"]);
        var args = JsonNode.Parse(Weather.JsonSchema.GetRawText())!;
        args["additionalProperties"] = false;
        args["properties"]!["days"]!["minimum"] = long.MinValue; // strict: integers fit in 64 bits
        args["properties"]!["days"]!["maximum"] = long.MaxValue;
        Assert.True(JsonNode.DeepEquals(args, s["properties"]!["arguments"]));
        Assert.Equal(["name", "arguments"], s["required"]!.AsArray().Select(x => (string)x!));
        Assert.False((bool)s["additionalProperties"]!);
        var e = Assert.Throws<ArgumentException>(() => ConstraintPlan.For(new ChatOptions { Tools = [Time], ToolMode = ChatToolMode.RequireSpecific("get_weather") }, ToolCallFormat.Hermes));
        Assert.Contains("get_weather", e.Message);
        // Llama's convention names the arguments "parameters".
        var llama = ConstraintPlan.For(new ChatOptions { Tools = [Weather], ToolMode = ChatToolMode.RequireSpecific("get_weather") }, ToolCallFormat.Llama)!;
        Assert.NotNull(llama.Schema!["properties"]!["parameters"]);
    }

    [Fact]
    public void Bounds_AreAddedWhereTheSchemaHasNone()
    {
        var schema = JsonDocument.Parse("""{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string","maxLength":3},"c":{"type":"string","pattern":"x+"},"d":{"type":"array","items":{"type":["string","null"]}}},"additionalProperties":true}""").RootElement;
        var plan = ConstraintPlan.For(new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema), AdditionalProperties = new() { ["max_string_length"] = 9, ["max_items"] = 2 } }, ToolCallFormat.Hermes)!;
        var p = plan.Schema!["properties"]!;
        Assert.Equal(9, (int)p["a"]!["maxLength"]!);
        Assert.Equal(3, (int)p["b"]!["maxLength"]!);
        Assert.Null(p["c"]!["maxLength"]);
        Assert.Equal(2, (int)p["d"]!["maxItems"]!);
        Assert.Equal(9, (int)p["d"]!["items"]!["maxLength"]!);
        Assert.True((bool)plan.Schema["additionalProperties"]!); // said explicitly: kept
        Assert.Throws<ArgumentException>(() => ConstraintPlan.For(new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema), AdditionalProperties = new() { ["max_items"] = 0 } }, ToolCallFormat.Hermes));
    }

    [Fact]
    public void RequireAny_IsTheAlternationOverTools_AndWinsOverAResponseFormat()
    {
        var plan = ConstraintPlan.For(new ChatOptions { Tools = [Weather, Time], ToolMode = ChatToolMode.RequireAny, ResponseFormat = ChatResponseFormat.Json }, ToolCallFormat.Hermes)!;
        var names = plan.Schema!["anyOf"]!.AsArray().Select(b => (string)b!["properties"]!["name"]!["const"]!).ToArray();
        Assert.Equal(["get_weather", "get_time"], names);
        Assert.Equal("<tool_call>\n", plan.Prefix);
    }

    [Fact]
    public void AutoWithTools_TriggersOnTheWrapper()
    {
        var plan = ConstraintPlan.For(new ChatOptions { Tools = [Weather] }, ToolCallFormat.Hermes)!;
        Assert.Equal("<tool_call>\n", plan.Trigger);
        Assert.Equal("", plan.Prefix);
        Assert.Equal("\n</tool_call>", plan.Suffix);
    }

    [Theory]
    [InlineData("{% for t in tools %}<tool_call>{% endfor %}", "hermes")]
    [InlineData("{{ '[TOOL_CALLS]' }}", "mistral")]
    [InlineData("{{ '<|python_tag|>' }}", "llama")]
    [InlineData("{{ messages }}", "hermes")]
    public void TemplateFormat_IsDetectedFromItsMarkup(string source, string expected) => Assert.Equal(expected, ToolCallFormat.Detect(source).Name);

    [Fact]
    public void Trigger_FreesTheModelUntilTheMarker_ThenConstrains_AndRearms()
    {
        // Tokens: 1 "<tool_call>", 2 "\n", 3.. letters; the inner constraint is the choice [5, 6].
        string Text(int t) => t switch { 1 => "<tool_call>", 2 => "\n", _ => ((char)('a' + t)).ToString() };
        var created = 0;
        var c = new TriggeredConstraint("<tool_call>\n", () => { created++; return new TokenChoiceConstraint([[5, 6]], []); }, Text, rearm: true);
        var mask = new uint[1];
        c.FillMask(mask);
        Assert.Equal(uint.MaxValue, mask[0]); // free
        Assert.True(c.Accept(3) && c.Accept(1) && !c.IsTriggered && c.Accept(2));
        Assert.True(c.IsTriggered);
        c.FillMask(mask);
        Assert.Equal(1u << 5, mask[0]);
        Assert.False(c.Accept(7));
        Assert.True(c.Accept(5) && c.Accept(6));
        Assert.False(c.IsTriggered); // complete: free again, not finished
        Assert.False(c.IsComplete);
        Assert.True(c.Accept(1) && c.Accept(2) && c.IsTriggered);
        Assert.Equal(2, created);
        // Without rearm, completing the inner constraint completes the whole.
        var once = new TriggeredConstraint("<tool_call>\n", () => new TokenChoiceConstraint([[5]], []), Text, rearm: false);
        Assert.True(once.Accept(1) && once.Accept(2) && once.Accept(5));
        Assert.True(once.IsComplete);
    }

    [Fact]
    public void Trigger_SpanningTokens_Fires_ButOneEndingInsideAToken_DoesNot()
    {
        string Text(int t) => t switch { 1 => "</th", 2 => "ink>", 3 => "ink>x", _ => "z" };
        var fires = new TriggeredConstraint("</think>", () => new TokenChoiceConstraint([[9]], []), Text, rearm: false);
        Assert.True(fires.Accept(4) && fires.Accept(1) && fires.Accept(2));
        Assert.True(fires.IsTriggered);
        var not = new TriggeredConstraint("</think>", () => new TokenChoiceConstraint([[9]], []), Text, rearm: false);
        Assert.True(not.Accept(1) && not.Accept(3));
        Assert.False(not.IsTriggered);
    }
}
