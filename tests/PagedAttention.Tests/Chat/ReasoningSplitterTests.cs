using PagedAttention.AI.Chat;

namespace PagedAttention.Tests.Chat;

public class ReasoningSplitterTests
{
    private static (string Reasoning, string Answer) Run(bool startInside, params string[] deltas)
    {
        var s = new ReasoningSplitter(startInside);
        var output = new List<(bool Reasoning, string Text)>();
        foreach (var d in deltas) s.Push(d, output);
        s.Flush(output);
        return (string.Concat(output.Where(o => o.Reasoning).Select(o => o.Text)), string.Concat(output.Where(o => !o.Reasoning).Select(o => o.Text)));
    }

    [Fact]
    public void TagsSplitAcrossDeltas()
    {
        var (r, a) = Run(false, "<th", "ink>\nLet me", " think.\n</", "think>\n\nThe answer", " is 4.");
        Assert.Equal("\nLet me think.\n", r);
        Assert.Equal("The answer is 4.", a);
    }

    [Fact]
    public void PromptAlreadyOpenedTheBlock()
    {
        var (r, a) = Run(true, "hmm", "</think>", "ok");
        Assert.Equal("hmm", r);
        Assert.Equal("ok", a);
    }

    [Fact]
    public void NoTagsMeansAllAnswer()
    {
        var (r, a) = Run(false, "a < b and ", "c <th", "at is all");
        Assert.Equal("", r);
        Assert.Equal("a < b and c <that is all", a);
    }

    [Fact]
    public void ThinkTagAfterAnswerTextIsLiteral()
    {
        var (r, a) = Run(false, "Use the <think> tag like this.");
        Assert.Equal("", r);
        Assert.Equal("Use the <think> tag like this.", a);
    }
}
