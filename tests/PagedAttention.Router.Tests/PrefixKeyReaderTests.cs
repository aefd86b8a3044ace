using System.Text;
using PagedAttention.Router.Routing;

namespace PagedAttention.Router.Tests;

public sealed class PrefixKeyReaderTests
{
    private static byte[] Key(string json, int prefixBytes = 4096, bool complete = true, int? cut = null)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var span = cut is { } c ? body.AsSpan(0, c) : body;
        var key = new byte[prefixBytes];
        var n = PrefixKeyReader.Read(span, complete, key);
        return key[..n];
    }

    private static string Chat(string system, string user, string extra = "") =>
        $$"""{"model":"m",{{extra}}"messages":[{"role":"system","content":"{{system}}"},{"role":"user","content":"{{user}}"}],"stream":true}""";

    [Fact]
    public void SameInstructionsGiveTheSameKeyWhateverTheUserMessageAndOtherFields()
    {
        var a = Key(Chat("You are agent A. Policy: be brief.", "What is 2+2?"));
        var b = Key(Chat("You are agent A. Policy: be brief.", "Name a colour.", "\"temperature\":0.5,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"));
        Assert.NotEmpty(a);
        Assert.Equal(a, b);
        Assert.NotEqual(a, Key(Chat("You are agent B. Policy: be brief.", "What is 2+2?")));
    }

    [Fact]
    public void ContentPartsRoleOrderAndEscapesDoNotChangeTheKey()
    {
        var plain = Key("""{"messages":[{"role":"system","content":"Be brief. é"},{"role":"user","content":"x"}]}""");
        var parts = Key("""{"messages":[{"content":[{"type":"text","text":"Be brief. "},{"text":"é","type":"text"}],"role":"system"},{"role":"user","content":"y"}]}""");
        var escaped = Key("""{"messages":[{"role":"system","content":"Be brief. \u00e9"},{"role":"user","content":"z"}]}""");
        Assert.Equal(plain, parts);
        Assert.Equal(plain, escaped);
    }

    [Fact]
    public void LeadingSystemAndDeveloperMessagesAllCountThenTheKeyStops()
    {
        var two = Key("""{"messages":[{"role":"system","content":"S1"},{"role":"developer","content":"D2"},{"role":"user","content":"u"}]}""");
        var one = Key("""{"messages":[{"role":"system","content":"S1"},{"role":"user","content":"u"}]}""");
        Assert.NotEqual(two, one);
        var later = Key("""{"messages":[{"role":"system","content":"S1"},{"role":"user","content":"u"},{"role":"system","content":"late"}]}""");
        Assert.Equal(one, later);
    }

    [Fact]
    public void WithoutInstructionsTheFirstMessageIsTheKey()
    {
        var a = Key("""{"messages":[{"role":"user","content":"Long shared document ..."},{"role":"assistant","content":"ok"}]}""");
        var b = Key("""{"messages":[{"role":"user","content":"Long shared document ..."},{"role":"assistant","content":"different"}]}""");
        Assert.NotEmpty(a);
        Assert.Equal(a, b);
        Assert.NotEqual(a, Key("""{"messages":[{"role":"user","content":"Another document"}]}"""));
    }

    [Fact]
    public void OnlyTheFirstPrefixBytesCount()
    {
        var common = new string('p', 100);
        var a = Key(Chat(common + "tail one", "q"), prefixBytes: 64);
        var b = Key(Chat(common + "tail two", "q"), prefixBytes: 64);
        Assert.Equal(64, a.Length);
        Assert.Equal(a, b);
        Assert.NotEqual(Key(Chat(common + "tail one", "q"), prefixBytes: 256), Key(Chat(common + "tail two", "q"), prefixBytes: 256));
    }

    [Fact]
    public void CompletionsPromptsStringsListsAndTokenIds()
    {
        var s = Key("""{"model":"m","prompt":"Once upon a time","max_tokens":4}""");
        Assert.Equal(Encoding.UTF8.GetBytes("Once upon a time"), s);
        Assert.Equal(s, Key("""{"prompt":["Once upon a time","other"]}"""));
        var ids = Key("""{"prompt":[1,2,258]}""");
        Assert.Equal(new byte[] { 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 0, 0 }, ids);
        Assert.Equal(ids, Key("""{"prompt":[[1,2,258],[9]]}"""));
    }

    [Fact]
    public void APartialBodyGivesTheKeyOfWhatItHasAndNeverThrows()
    {
        var json = Chat("Shared preamble.", "question");
        var full = Key(json);
        var cutInUser = json.IndexOf("question", StringComparison.Ordinal) + 3;
        Assert.Equal(full, Key(json, complete: false, cut: cutInUser));
        var cutInSystem = json.IndexOf("preamble", StringComparison.Ordinal);
        Assert.Empty(Key(json, complete: false, cut: cutInSystem));

        foreach (var bad in new[] { "", "not json", "[1,2]", "{\"messages\":", "{\"messages\":[{\"role\":", "{\"messages\":[1,2]}", "{\"a\":}", "\"x\"" })
        {
            var k = Key(bad, complete: true);
            Assert.True(k.Length <= 4096);
        }

        Assert.Empty(Key("""{"model":"m","input":"responses api"}"""));
        Assert.Empty(Key(new string('[', 10_000)));
    }
}
