using System.Text;
using PagedAttention.AI.Constraints;
using static PagedAttention.Tests.Constraints.ConstraintTestKit;

namespace PagedAttention.Tests.Constraints;

public class EarleyMatcherTests
{
    private static int Tok(string s)
    {
        var v = ByteVocab.Value;
        byte[] b = Encoding.UTF8.GetBytes(s);
        for (int t = 0; t < v.Size; t++) if (v.TokenBytes(t).SequenceEqual(b)) return t;
        throw new ArgumentException(s);
    }

    private static CompiledGrammar Ambiguous()
    {
        // E -> E + E | n : ambiguous and left-recursive.
        var b = new GrammarBuilder();
        int e = b.Nonterminal("E");
        b.Rule(e, e, b.Literal("+"), e);
        b.Rule(e, b.Literal("n"));
        return Compile(b.Build(e));
    }

    private static CompiledGrammar Balanced()
    {
        // S -> ( S ) S | ε : recursion with a nullable rule.
        var b = new GrammarBuilder();
        int s = b.Nonterminal("S");
        b.Rule(s, b.Literal("("), s, b.Literal(")"), s);
        b.Rule(s);
        return Compile(b.Build(s));
    }

    [Theory]
    [InlineData("n", true)]
    [InlineData("n+n+n+n", true)]
    [InlineData("n+", false)]
    [InlineData("+n", false)]
    [InlineData("nn", false)]
    public void Ambiguous_LeftRecursive(string text, bool ok) => Assert.Equal(ok, AcceptsBytes(Ambiguous(), text));

    [Theory]
    [InlineData("", true)]
    [InlineData("(()())()", true)]
    [InlineData("((((((((((((((()))))))))))))))", true)]
    [InlineData("(()", false)]
    [InlineData(")(", false)]
    public void Recursion_Nullable(string text, bool ok) => Assert.Equal(ok, AcceptsBytes(Balanced(), text));

    [Fact]
    public void NullableChain_AycockHorspool()
    {
        var b = new GrammarBuilder();
        int a = b.Nonterminal("A"), bb = b.Nonterminal("B"), s = b.Nonterminal("S");
        b.Rule(a); b.Rule(a, b.Literal("a"));
        b.Rule(bb); b.Rule(bb, b.Literal("b"));
        b.Rule(s, a, bb, b.Literal("x"));
        var g = Compile(b.Build(s));
        foreach (var ok in (string[])["x", "ax", "bx", "abx"]) Assert.True(AcceptsBytes(g, ok), ok);
        foreach (var bad in (string[])["", "ba", "bax", "aabx"]) Assert.False(AcceptsBytes(g, bad), bad);
    }

    [Fact]
    public void Rollback_RestoresTheExactState()
    {
        var g = Balanced();
        var m = g.CreateMatcher();
        var fresh = Mask(m);
        int open = Tok("("), close = Tok(")");
        Assert.True(m.TryConsume(open));
        var afterOne = Mask(m);
        Assert.True(m.TryConsume(open));
        Assert.True(m.TryConsume(close));
        Assert.False(m.TryConsume(Tok("x")));
        m.Rollback(2);
        Assert.Equal(afterOne, Mask(m));
        Assert.False(m.IsAccepting);
        m.Rollback(1);
        Assert.Equal(fresh, Mask(m));
        Assert.True(m.IsAccepting);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Rollback(1));
    }

    [Fact]
    public void Fork_IsIndependent()
    {
        var g = Balanced();
        var m = g.CreateMatcher();
        Assert.True(m.TryConsume(Tok("(")));
        var f = m.Fork();
        Assert.True(f.TryConsume(Tok(")")));
        Assert.True(f.IsAccepting);
        Assert.False(m.IsAccepting);
        Assert.Equal(Mask(g.CreateMatcher().Also(x => x.TryConsume(Tok("(")))), Mask(m));
        f.Rollback(2);
        Assert.Equal(Mask(g.CreateMatcher()), Mask(f));
    }

    [Fact]
    public void Eos_OnlyWhenComplete_AndStopsTheMatcher()
    {
        var g = Compile(Constraint.Choice(["ab", "abc"]));
        var m = g.CreateMatcher();
        Assert.False(Allowed(Mask(m), Eos));
        Assert.False(m.TryConsume(Eos));
        Assert.True(m.TryConsume(Tok("ab")));
        var mask = Mask(m);
        Assert.True(Allowed(mask, Eos));
        Assert.True(Allowed(mask, Tok("c")));
        Assert.False(m.IsStopped);
        Assert.True(m.TryConsume(Tok("c")));
        Assert.True(m.IsStopped);
        mask = Mask(m);
        Assert.Equal(1, mask.Sum(w => System.Numerics.BitOperations.PopCount(w)));
        Assert.True(m.TryConsume(Eos));
        Assert.True(m.IsStopped);
        Assert.False(m.TryConsume(Tok("a")));
    }

    [Fact]
    public void TokensSpanningLexemes_AndPartialUtf8()
    {
        var g = Compile(Constraint.JsonSchema("""{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}"""));
        var m = g.CreateMatcher();
        Assert.True(m.TryConsume(Tok("{\"")));
        Assert.True(m.TryConsume(Tok("a")));
        Assert.True(m.TryConsume(Tok("\":")));
        Assert.True(m.TryConsume(Tok("\"")));
        Assert.True(m.TryConsume(256 + 15)); // half an emoji: a legal prefix
        Assert.False(m.TryConsume(Tok("\""))); // ...but the string cannot end inside a character
        Assert.True(m.TryConsume(0x98)); // third byte (single-byte tokens are their own ids)
        Assert.True(m.TryConsume(0x80));
        Assert.True(m.TryConsume(Tok("\"}")));
        Assert.True(m.IsStopped);
    }

    [Fact]
    public void Whitespace_IsBounded()
    {
        var g = Compile(Constraint.JsonSchema("""{"type":"array","items":{"type":"integer"}}""", new JsonGrammarOptions { MaxWhitespace = 3 }));
        Assert.True(AcceptsBytes(g, "[   1,   2   ]"));
        Assert.False(AcceptsBytes(g, "[    1]"));
        Assert.False(AcceptsBytes(g, "[1    ]"));
        var compact = Compile(Constraint.JsonSchema("""{"type":"array"}""", new JsonGrammarOptions { MaxWhitespace = 0 }));
        Assert.True(AcceptsBytes(compact, "[1,{\"a\":[]}]"));
        Assert.False(AcceptsBytes(compact, "[1, 2]"));
        // No trailing whitespace: after the closing bracket only EOS remains.
        var m = g.CreateMatcher();
        Assert.True(m.TryConsumeBytes("[1]"u8));
        Assert.True(m.IsStopped);
    }

    [Fact]
    public void Regex_AndChoice_Constraints()
    {
        var r = Compile(Constraint.Regex("\\d{3}-[A-Z]{2}"));
        Assert.True(AcceptsBytes(r, "123-AB"));
        Assert.False(AcceptsBytes(r, "123-AB!"));
        Assert.False(AcceptsBytes(r, "x123-AB"));
        var empty = Compile(Constraint.Regex("a*"));
        Assert.True(AcceptsBytes(empty, ""));
        Assert.True(AcceptsBytes(empty, "aaa"));
        var c = Compile(Constraint.Choice(["yes", "no", "maybe"]));
        Assert.True(AcceptsBytes(c, "maybe"));
        Assert.False(AcceptsBytes(c, "ye"));
    }
}

internal static class TestExtensions
{
    public static T Also<T>(this T x, Action<T> a) { a(x); return x; }
}
