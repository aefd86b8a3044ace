using System.Runtime.ExceptionServices;
using System.Text.Json.Nodes;
using PagedAttention.Text.Templates;

namespace PagedAttention.Tests.Templates;

/// <summary>
/// Deep or recursive templates end in a TemplateException (Python Jinja2 raises RecursionError on all of these), never
/// in a stack overflow that kills the process.
/// </summary>
/// <remarks>
/// Each case runs on its own thread with a fixed 1 MiB stack. These tests used to run through
/// <c>Task.Run(...).GetAwaiter().GetResult()</c>, which may run the task inline on the waiting xunit thread or on a pool
/// thread, whose stacks differ; an outcome decided by the stack check alone then depended on the thread. Now the
/// parse-time cases must hit the parser's fixed 1,000-level cap (asserted by its message and position), and the
/// render-time ones run on a known stack.
/// </remarks>
public class TemplateDepthTests
{
    private const string ParserCap = "recursion limit: expressions and blocks nest deeper than 1000 levels";

    internal static T OnThread<T>(Func<T> body, int stackSize = 1 << 20)
    {
        T result = default!;
        ExceptionDispatchInfo? error = null;
        var thread = new Thread(() =>
        {
            try { result = body(); }
            catch (Exception e) { error = ExceptionDispatchInfo.Capture(e); }
        }, stackSize);
        thread.Start();
        thread.Join();
        error?.Throw();
        return result;
    }

    private static TemplateException RenderFails(string source) =>
        Assert.Throws<TemplateException>(() => OnThread(() => ChatTemplate.Parse(source).Render(new JsonObject())));

    private static TemplateException ParseFails(string source) =>
        Assert.Throws<TemplateException>(() => OnThread(() => ChatTemplate.Parse(source)));

    private static void AssertParserCap(TemplateException e)
    {
        Assert.Equal(ParserCap, e.Detail);
        Assert.Equal(1, e.Line);
        Assert.True(e.Column > 100, e.Message);
    }

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
        AssertParserCap(ParseFails("{{ " + new string(open, 20000) + "1" + new string(close, 20000) + " }}"));

    [Fact]
    public void HundredThousandChainedNot() =>
        AssertParserCap(ParseFails("{{ " + string.Concat(Enumerable.Repeat("not ", 100000)) + "1 }}"));

    [Fact]
    public void HundredThousandChainedMinus() =>
        AssertParserCap(ParseFails("{{ " + new string('-', 100000) + "1 }}"));

    /// <summary>
    /// A left-deep tree of 100,000 additions would be evaluated recursively: each link of a chain counts as a nesting
    /// level, so it fails at parse time on any thread (Python's compiler raises RecursionError on it too).
    /// </summary>
    [Fact]
    public void HundredThousandChainedAdditions_HitTheParserCap()
    {
        AssertParserCap(ParseFails("{{ " + string.Join(" + ", Enumerable.Repeat("1", 100000)) + " }}"));
        AssertParserCap(ParseFails("{{ x" + string.Concat(Enumerable.Repeat(".a", 100000)) + " }}"));
        AssertParserCap(ParseFails("{{ x" + string.Concat(Enumerable.Repeat("|string", 100000)) + " }}"));
    }

    [Fact]
    public void ChainsBelowTheCap_StillRender()
    {
        Assert.Equal("900", OnThread(() => ChatTemplate.Parse("{{ " + string.Join(" + ", Enumerable.Repeat("1", 900)) + " }}").Render(new JsonObject())));
        Assert.Equal("True", OnThread(() => ChatTemplate.Parse("{{ " + string.Concat(Enumerable.Repeat("not ", 900)) + "1 }}").Render(new JsonObject())));
    }

    [Fact]
    public void ModerateNesting_StillRenders() =>
        Assert.Equal("3", ChatTemplate.Parse("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% else %}3{% endif %}{% endmacro %}{{ f(200) }}").Render(new JsonObject()).Trim());
}
