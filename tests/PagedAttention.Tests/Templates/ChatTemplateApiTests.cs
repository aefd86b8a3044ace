using System.Text.Json.Nodes;
using PagedAttention.Text.Templates;

namespace PagedAttention.Tests.Templates;

/// <summary>Public API behaviour: argument checks, named templates, error positions, concurrent rendering.</summary>
public sealed class ChatTemplateApiTests
{
    [Fact]
    public void Parse_RejectsNull()
    {
        Assert.Throws<ArgumentNullException>(() => ChatTemplate.Parse((string)null!));
        Assert.Throws<ArgumentNullException>(() => ChatTemplate.Parse((JsonNode)null!));
        Assert.Throws<ArgumentNullException>(() => ChatTemplate.Parse("x").Render(null!));
    }

    [Fact]
    public void Parse_ListForm_PicksNamedTemplate_AndReportsMissingOnes()
    {
        var list = JsonNode.Parse("""[{"name":"default","template":"D{{ x }}"},{"name":"tool_use","template":"T{{ x }}"}]""")!;
        var ctx = new JsonObject { ["x"] = 1 };
        Assert.Equal("D1", ChatTemplate.Parse(list).Render(ctx));
        Assert.Equal("T1", ChatTemplate.Parse(list, "tool_use").Render(ctx));
        Assert.Equal("S1", ChatTemplate.Parse(JsonValue.Create("S{{ x }}")!).Render(ctx));
        var ex = Assert.Throws<ArgumentException>(() => ChatTemplate.Parse(list, "rag"));
        Assert.Contains("tool_use", ex.Message);
    }

    [Fact]
    public void SyntaxError_NamesLineAndColumn()
    {
        var ex = Assert.Throws<TemplateException>(() => ChatTemplate.Parse("ok\n{% if x %}\n  {{ 1 + }}\n{% endif %}"));
        Assert.Equal(3, ex.Line);
        Assert.Equal(10, ex.Column);
        Assert.Contains("line 3, column 10", ex.Message);
    }

    [Fact]
    public void RaiseException_SurfacesTemplateMessage_WithCallPosition()
    {
        var t = ChatTemplate.Parse("{% if messages|length == 0 %}\n  {{ raise_exception('No messages: ' ~ 0) }}\n{% endif %}");
        var ex = Assert.Throws<TemplateRaisedException>(() => t.Render(new JsonObject { ["messages"] = new JsonArray() }));
        Assert.Equal("No messages: 0", ex.Message);
        Assert.Equal(2, ex.RaisedAtLine);
    }

    [Fact]
    public void RuntimeError_CarriesPosition()
    {
        var ex = Assert.Throws<TemplateException>(() => ChatTemplate.Parse("a\n  {{ missing.attr }}").Render(new JsonObject()));
        Assert.Equal("'missing' is undefined", ex.Detail);
        Assert.Equal(2, ex.Line);
    }

    [Fact]
    public void ContextBuiltFromDotNetValues_MatchesParsedJson()
    {
        // Numbers created in code (not parsed) must print like Python's json.load would give them.
        var t = ChatTemplate.Parse("{{ a }} {{ b }} {{ c|tojson }} {{ d }}");
        var built = new JsonObject { ["a"] = 21.0, ["b"] = 7, ["c"] = new JsonArray(1.5, "é", true, null), ["d"] = "x" };
        var parsed = JsonNode.Parse("""{"a": 21.0, "b": 7, "c": [1.5, "é", true, null], "d": "x"}""")!.AsObject();
        Assert.Equal(t.Render(parsed), t.Render(built));
    }

    [Fact]
    public void ConcurrentRenders_OfOneParsedTemplate_AreIdentical()
    {
        var golden = TemplateTestData.Load(Path.Combine("goldens", "qwen3.json"));
        var expected = golden["cases"]!.AsArray().Single(c => c!["context"]!.GetValue<string>() == "tools")!["output"]!.GetValue<string>();
        var ctx = TemplateTestData.Load("contexts.json")["tools"]!.DeepClone().AsObject();
        ctx["bos_token"] = "";
        ctx["eos_token"] = "<|im_end|>";
        var template = ChatTemplate.Parse(TemplateTestData.Source("qwen3"));
        var results = new string[64];
        // Distinct context objects: System.Text.Json nodes materialise lazily and are not safe to share across threads.
        var contexts = Enumerable.Range(0, results.Length).Select(_ => ctx.DeepClone().AsObject()).ToArray();
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => results[i] = template.Render(contexts[i]));
        Assert.All(results, r => Assert.Equal(expected, r));
    }
}
