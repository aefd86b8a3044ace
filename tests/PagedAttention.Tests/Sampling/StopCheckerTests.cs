using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;

namespace PagedAttention.Tests.Sampling;

public class StopCheckerTests
{
    private static readonly int[] Eos = [2];

    /// <summary>Feeds tokens as the engine does (one more output token each) and returns the reason of the last one.</summary>
    private static (FinishReason? Reason, string Text) Feed(StopChecker c, int promptLen, params int[] tokens)
    {
        FinishReason? reason = null;
        var text = "";
        for (int i = 0; i < tokens.Length; i++)
        {
            reason = c.Check(tokens[i], i + 1, promptLen + i + 1, out string? t);
            text += t;
            if (reason is not null) Assert.Equal(tokens.Length - 1, i);
        }
        return (reason, text);
    }

    private sealed class CharDetokenizer : IStreamingDetokenizer
    {
        public string Append(int tokenId) => ((char)tokenId).ToString();
        public string Flush() => "";
    }

    [Fact]
    public void TokenRules_EosStopIdsMinTokensMaxTokensIgnoreEos()
    {
        var p = new SamplingParams { MaxTokens = 5, MinTokens = 2, StopTokenIds = [42] };
        Assert.Null(new StopChecker(p, Eos, 100, null).Check(2, 1, 5, out _)); // eos below MinTokens
        Assert.Equal(FinishReason.Stop, Feed(new StopChecker(p, Eos, 100, null), 4, 2, 2).Reason);
        Assert.Equal(FinishReason.Stop, Feed(new StopChecker(p, Eos, 100, null), 4, 9, 9, 42).Reason);
        Assert.Equal(FinishReason.Length, Feed(new StopChecker(p, Eos, 100, null), 4, 9, 9, 9, 9, 9).Reason);
        var ignore = new SamplingParams { MaxTokens = 3, IgnoreEos = true };
        Assert.Equal(FinishReason.Length, Feed(new StopChecker(ignore, Eos, 100, null), 4, 2, 2, 2).Reason);
        // The sequence's own length limit (MaxModelLen) ends it too.
        Assert.Equal(FinishReason.Length, Feed(new StopChecker(new SamplingParams { MaxTokens = 50 }, Eos, 6, null), 4, 9, 9).Reason);
    }

    [Fact]
    public void EndTokenIds_AreEosUnlessIgnored_PlusStopIds_Once()
    {
        Assert.Equal([2, 42], new StopChecker(new SamplingParams { StopTokenIds = [42, 2] }, Eos, 100, null).EndTokenIds.ToArray());
        Assert.Equal([42], new StopChecker(new SamplingParams { StopTokenIds = [42], IgnoreEos = true }, Eos, 100, null).EndTokenIds.ToArray());
    }

    [Fact]
    public void StopString_AcrossTokens_IsCutWithEverythingAfterIt()
    {
        var p = new SamplingParams { MaxTokens = 20, StopStrings = ["END"] };
        var (reason, text) = Feed(new StopChecker(p, Eos, 100, new CharDetokenizer()), 1, 'a', 'b', 'E', 'N', 'D');
        Assert.Equal(FinishReason.Stop, reason);
        Assert.Equal("ab", text);
    }

    [Fact]
    public void HeldBackText_IsFlushed_WhenTheSequenceEndsOtherwise()
    {
        var p = new SamplingParams { MaxTokens = 3, StopStrings = ["END"] };
        var (reason, text) = Feed(new StopChecker(p, Eos, 100, new CharDetokenizer()), 1, 'a', 'E', 'N');
        Assert.Equal(FinishReason.Length, reason);
        Assert.Equal("aEN", text); // "EN" was held back as a possible start of "END"
    }

    [Fact]
    public void StopString_OnTheLastAllowedToken_IsStopNotLength()
    {
        var p = new SamplingParams { MaxTokens = 3, StopStrings = ["xy"] };
        var (reason, text) = Feed(new StopChecker(p, Eos, 100, new CharDetokenizer()), 1, 'a', 'x', 'y');
        Assert.Equal(FinishReason.Stop, reason);
        Assert.Equal("a", text);
    }

    [Fact]
    public void EndToken_AddsNoText_AndFlushes()
    {
        var (reason, text) = Feed(new StopChecker(new SamplingParams { MaxTokens = 9 }, Eos, 100, new CharDetokenizer()), 1, 'h', 'i', 2);
        Assert.Equal(FinishReason.Stop, reason);
        Assert.Equal("hi", text);
    }

    [Fact]
    public void StopStrings_WithoutDetokenizer_AreRejected() =>
        Assert.Throws<ArgumentException>(() => new StopChecker(new SamplingParams { StopStrings = ["x"] }, Eos, 100, null));
}
