using System.Text.Json.Nodes;
using PagedAttention.Text.Templates;

namespace PagedAttention.Tests.Templates;

/// <summary>Byte-exact renders of real model templates against Python Jinja2 goldens, errors included.</summary>
public sealed class ChatTemplateGoldenTests
{
    public static TheoryData<string, string> ModelCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in Directory.GetFiles(Path.Combine(TemplateTestData.Dir, "goldens"), "*.json").OrderBy(f => f, StringComparer.Ordinal))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            if (name is "e2e" or "snippets" or "differential") continue; // not model templates: their own tests
            foreach (var c in TemplateTestData.Load(Path.Combine("goldens", name + ".json"))["cases"]!.AsArray())
                data.Add(name, c!["context"]!.GetValue<string>());
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ModelCases))]
    public void ModelTemplate_MatchesPythonJinja(string template, string context)
    {
        var golden = TemplateTestData.Load(Path.Combine("goldens", template + ".json"));
        var expected = golden["cases"]!.AsArray().Single(c => c!["context"]!.GetValue<string>() == context)!;
        var ctx = TemplateTestData.Load("contexts.json")[context]!.DeepClone().AsObject();
        ctx["bos_token"] = golden["bos_token"]!.GetValue<string>();
        ctx["eos_token"] = golden["eos_token"]!.GetValue<string>();
        var parsed = ChatTemplate.Parse(TemplateTestData.Source(template));
        GoldenAssert.Matches(expected, () => parsed.Render(ctx, TemplateTestData.Clock));
    }

    public static TheoryData<int> E2ECases()
    {
        var data = new TheoryData<int>();
        int n = TemplateTestData.Load(Path.Combine("goldens", "e2e.json")).AsArray().Count;
        for (int i = 0; i < n; i++) data.Add(i);
        return data;
    }

    /// <summary>The 45 (template, data) pairs of huggingface.js' e2e suite, with Python's output as the truth.</summary>
    [Theory]
    [MemberData(nameof(E2ECases))]
    public void HuggingFaceJsE2ETemplate_MatchesPythonJinja(int index)
    {
        var c = TemplateTestData.Load(Path.Combine("goldens", "e2e.json"))[index]!;
        var parsed = ChatTemplate.Parse(c["template"]!.GetValue<string>());
        GoldenAssert.Matches(c, () => parsed.Render(c["data"]!.AsObject(), TemplateTestData.Clock));
    }

    public static TheoryData<int> SnippetCases()
    {
        var data = new TheoryData<int>();
        int n = TemplateTestData.Load(Path.Combine("goldens", "snippets.json"))["cases"]!.AsArray().Count;
        for (int i = 0; i < n; i++) data.Add(i);
        return data;
    }

    /// <summary>One Jinja semantic per snippet (whitespace, scoping, printing, tojson, filters, errors...).</summary>
    [Theory]
    [MemberData(nameof(SnippetCases))]
    public void Snippet_MatchesPythonJinja(int index)
    {
        var all = TemplateTestData.Load(Path.Combine("goldens", "snippets.json"));
        var c = all["cases"]![index]!;
        var vars = all["vars"]!.AsObject();
        GoldenAssert.Matches(c, () => ChatTemplate.Parse(c["template"]!.GetValue<string>()).Render(vars, TemplateTestData.Clock));
    }
}

internal static class GoldenAssert
{
    public static void Matches(JsonNode expected, Func<string> render)
    {
        if (expected["output"] is JsonNode output)
        {
            Assert.Equal(output.GetValue<string>(), render());
            return;
        }
        string kind = expected["error"]!.GetValue<string>();
        string message = expected["message"]!.GetValue<string>();
        var ex = Assert.ThrowsAny<TemplateException>(render);
        if (kind == "raise_exception")
        {
            var raised = Assert.IsType<TemplateRaisedException>(ex);
            Assert.Equal(message, raised.Message);
            return;
        }
        Assert.IsNotType<TemplateRaisedException>(ex);
        if (expected["line"] is JsonNode line)
        {
            // Syntax errors: the same line as Jinja2 reports, and a column.
            Assert.Equal(line.GetValue<int>(), ex.Line);
            Assert.True(ex.Column > 0, ex.Message);
        }
        else
        {
            Assert.Equal(message, ex.Detail);
        }
    }
}
