using System.Text.Json.Nodes;
using PagedAttention.Text.Templates;

namespace PagedAttention.Tests.Templates;

/// <summary>
/// Deep or recursive templates end in a TemplateException (Python Jinja2 raises RecursionError on all of these), never
/// in a stack overflow that kills the process. Run on thread-pool threads, whose stacks are smaller than the main one.
/// </summary>
public class TemplateDepthTests
{
    private static TemplateException RenderFails(string source) => Assert.Throws<TemplateException>(() =>
        Task.Run(() => ChatTemplate.Parse(source).Render(new JsonObject())).GetAwaiter().GetResult());

    private static TemplateException ParseFails(string source) => Assert.Throws<TemplateException>(() =>
        Task.Run(() => ChatTemplate.Parse(source)).GetAwaiter().GetResult());

    [Fact]
    public void SelfRecursiveMacro() =>
        Assert.Contains("recursion limit", RenderFails("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").Message);

    [Fact]
    public void DeepFiniteRecursion() =>
        Assert.Contains("recursion limit", RenderFails("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(50000) }}").Message);

    [Theory]
    [InlineData('(', ')')]
    [InlineData('[', ']')]
    public void TwentyThousandNestedBrackets(char open, char close) =>
        Assert.Contains("recursion limit", ParseFails("{{ " + new string(open, 20000) + "1" + new string(close, 20000) + " }}").Message);

    [Fact]
    public void HundredThousandChainedNot() =>
        Assert.Contains("recursion limit", ParseFails("{{ " + string.Concat(Enumerable.Repeat("not ", 100000)) + "1 }}").Message);

    [Fact]
    public void HundredThousandChainedMinus() =>
        Assert.Contains("recursion limit", ParseFails("{{ " + new string('-', 100000) + "1 }}").Message);

    [Fact]
    public async Task HundredThousandChainedAdditions_RenderOrHitTheLimit_NeverCrash()
    {
        // A left-deep tree of 100,000 additions: evaluated while the thread's stack allows, else the recursion limit.
        var template = ChatTemplate.Parse("{{ " + string.Join(" + ", Enumerable.Repeat("1", 100000)) + " }}");
        try { Assert.Equal("100000", await Task.Run(() => template.Render(new JsonObject()))); }
        catch (TemplateException e) { Assert.Contains("recursion limit", e.Message); }
    }

    [Fact]
    public void ModerateNesting_StillRenders() =>
        Assert.Equal("3", ChatTemplate.Parse("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% else %}3{% endif %}{% endmacro %}{{ f(200) }}" ).Render(new JsonObject()).Trim());
}
