using PagedAttention.AI.Chat;

namespace PagedAttention.Tests.Chat;

public class ToolCallStreamTests
{
    private static (string Shown, string Tail, int Calls) Run(params string[] deltas)
    {
        var s = new ToolCallStream();
        string shown = string.Concat(deltas.Select(s.Push));
        string tail = s.Finish(out var calls);
        return (shown, tail, calls.Count);
    }

    [Fact]
    public void TextBeforeHermesCallIsStreamedAndTheCallIsHeld()
    {
        var (shown, tail, calls) = Run("Checking", " now.\n<tool", "_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>");
        Assert.Equal("Checking now.\n", shown);
        Assert.Equal("", tail);
        Assert.Equal(1, calls);
    }

    [Fact]
    public void LeadingJsonIsHeldThenParsed()
    {
        var (shown, _, calls) = Run(" {\"name\": \"f\", ", "\"parameters\": {\"a\": 1}}");
        Assert.Equal("", shown);
        Assert.Equal(1, calls);
    }

    [Fact]
    public void HeldTextThatIsNotACallComesBackAtTheEnd()
    {
        var (shown, tail, calls) = Run("[1, 2", ", 3]");
        Assert.Equal("", shown);
        Assert.Equal("[1, 2, 3]", tail);
        Assert.Equal(0, calls);
    }

    [Fact]
    public void PlainTextPassesThroughWhole()
    {
        var (shown, tail, calls) = Run("Hello", " <b>world</b> <to", "day");
        Assert.Equal("Hello <b>world</b> <today", shown + tail);
        Assert.Equal(0, calls);
    }
}
