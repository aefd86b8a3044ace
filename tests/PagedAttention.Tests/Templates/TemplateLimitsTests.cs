using Xunit.Abstractions;
using System.Diagnostics;
using System.Text.Json.Nodes;
using PagedAttention.Text.Templates;

namespace PagedAttention.Tests.Templates;

/// <summary>
/// The render budget (<see cref="TemplateLimits"/>) and cancellation: hostile templates end quickly in a
/// TemplateException naming the limit, with bounded memory; a cancelled token ends a render with OperationCanceledException.
/// </summary>
public sealed class TemplateLimitsTests
{
    private static readonly JsonObject Messages = new() { ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }) };

    public static TheoryData<string, string> HostileCases() => new()
    {
        { "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}", "iteration limit" },
        { "{{ 3 ** 100000000 }}", "integer too large" },
        { "{{ 'a' * 10**10 }}", "allocation limit" },
        { "{{ [1] * 10**9 }}", "allocation limit" },
        { "{{ 'x'|center(10**10) }}", "allocation limit" },
        { "{{ [1]|tojson(indent=10**9) }}", "allocation limit" },
        { "{{ 'x'.ljust(10**10) }}", "allocation limit" },
        { "{{ 'x'.rjust(10**10) }}", "allocation limit" },
        { "{{ 'x'.zfill(10**10) }}", "allocation limit" },
        { "{{ 'a\nb'|indent(10**9) }}", "allocation limit" },
        { "{{ '%1000000000s' % 'x' }}", "allocation limit" },
        { "{{ '{:>10000000000}'.format('x') }}", "allocation limit" },
        { "{{ 'ab' * 2000000000 }}", "allocation limit" },
        { "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}", "allocation limit" },
        { "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|length }}", "allocation limit" },
        { "{{ ('x' * 100000).replace('', 'y' * 100000) }}", "allocation limit" },
        { "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}", "iteration limit" },
        { "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}", "limit" },
        { "{{ range(100000)|list|unique|list|length }}{% for a in range(100000) %}{{ range(100000)|list|length }}{% endfor %}", "limit" },
    };

    [Theory]
    [MemberData(nameof(HostileCases))]
    public void HostileTemplate_EndsQuickly_WithTemplateException_AndBoundedMemory(string source, string limit)
    {
        var template = ChatTemplate.Parse(source);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        var cpu = ThreadCpuTime.Now();
        var e = Assert.Throws<TemplateException>(() => template.Render(Messages));
        cpu = ThreadCpuTime.Now() - cpu;
        sw.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains(limit, e.Message);
        // The work is bounded by the thread's CPU time (wall time grows with the machine's load; loosely bounded too).
        Assert.True(cpu < TimeSpan.FromSeconds(5), $"{cpu} of CPU time for {source}");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"{sw.Elapsed} for {source}");
        // The default budget allows 64 Mi units (128 MiB of chars); the bound here leaves room for boxing and the runtime.
        Assert.True(allocated < 1L << 30, $"{allocated:N0} bytes for {source}");
    }

    [Fact]
    public void Limits_CanBeTightened_AndNameThemselves()
    {
        var t = ChatTemplate.Parse("{% for i in range(10) %}{{ i }}{% endfor %}");
        var clock = TimeProvider.System;
        Assert.Equal("0123456789", t.Render(new JsonObject(), clock, new TemplateLimits { MaxIterations = 10 }, default));
        Assert.Contains("TemplateLimits.MaxIterations", Assert.Throws<TemplateException>(() => t.Render(new JsonObject(), clock, new TemplateLimits { MaxIterations = 9 }, default)).Message);
        Assert.Contains("TemplateLimits.MaxOutputLength", Assert.Throws<TemplateException>(() => t.Render(new JsonObject(), clock, new TemplateLimits { MaxOutputLength = 5 }, default)).Message);
        Assert.Contains("TemplateLimits.MaxAllocatedLength", Assert.Throws<TemplateException>(() => t.Render(new JsonObject(), clock, new TemplateLimits { MaxAllocatedLength = 5 }, default)).Message);
    }

    [Fact]
    public void TimeLimit_UsesTheRenderClock()
    {
        // A clock that advances one second per reading: the 10 s default is exceeded after a few checks.
        var t = ChatTemplate.Parse("{% for i in range(100000) %}x{% endfor %}");
        var e = Assert.Throws<TemplateException>(() => t.Render(new JsonObject(), new SteppingClock(), TemplateLimits.Default, default));
        Assert.Contains("time limit", e.Message);
        Assert.Contains("TemplateLimits.MaxRenderTime", e.Message);
    }

    [Fact]
    public void CancelledToken_EndsTheRender_WithOperationCanceledException()
    {
        var t = ChatTemplate.Parse("{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var sw = Stopwatch.StartNew();
        // Only the token may end this render: every other limit is lifted (with the defaults, a fast machine reaches
        // the allocation limit, 84 range(100000) lists, before 100 ms have passed; a CI run failed that way).
        var unlimited = new TemplateLimits { MaxIterations = long.MaxValue, MaxAllocatedLength = long.MaxValue, MaxOutputLength = long.MaxValue, MaxRenderTime = TimeSpan.MaxValue };
        Assert.ThrowsAny<OperationCanceledException>(() => t.Render(new JsonObject(), TimeProvider.System, unlimited, cts.Token));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(3), sw.Elapsed.ToString());
        Assert.ThrowsAny<OperationCanceledException>(() => ChatTemplate.Parse("x").Render(new JsonObject(), cts.Token));
    }

    [Fact]
    public void RealTemplates_RenderFarBelowTheDefaults()
    {
        var m = TemplateBudgetProbe.MeasureLargest();
        Assert.True(m.Output * 100 < TemplateLimits.Default.MaxOutputLength, m.ToString());
        Assert.True(m.Allocated * 100 < TemplateLimits.Default.MaxAllocatedLength, m.ToString());
        Assert.True(m.Iterations * 100 < TemplateLimits.Default.MaxIterations, m.ToString());
    }

    private sealed class SteppingClock : TimeProvider
    {
        private long _ticks;

        public override long GetTimestamp() => Interlocked.Add(ref _ticks, TimestampFrequency);
    }
}

/// <summary>Prints the measured budget use of the real templates (the margin documented in docs/reliability.md).</summary>
public sealed class TemplateBudgetReport(ITestOutputHelper output)
{
    [Fact]
    public void Report() => output.WriteLine(TemplateBudgetProbe.MeasureLargest().ToString());
}
