using System.Diagnostics;
using System.Text.Json.Nodes;
using PagedAttention.Text.Templates;
using Xunit.Abstractions;

namespace PagedAttention.Tests.Templates;

/// <summary>
/// Template fuzzing: random templates from the supported grammar and random mutations of the real model templates
/// must parse and render to a string or a TemplateException, never another exception, within 5 s and bounded memory.
/// Fixed seed; a few thousand cases in CI. Long run:
/// <c>PAGEDATTENTION_TEST_FUZZ_SCALE=100 PAGEDATTENTION_TEST_FUZZ_SEED=7 dotnet test ... --filter "FullyQualifiedName~TemplateFuzz"</c>.
/// Deep and recursive templates (the crash class: stack overflow) run in a child process, so a crash is reported
/// as a failed test instead of killing the test host.
/// </summary>
public sealed class TemplateFuzzTests(ITestOutputHelper output)
{
    internal const string ChildSwitch = "--template-fuzz-child";

    private static int Scale => int.TryParse(Environment.GetEnvironmentVariable("PAGEDATTENTION_TEST_FUZZ_SCALE"), out var s) && s > 0 ? s : 1;

    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("PAGEDATTENTION_TEST_FUZZ_SEED"), out var s) ? s : 17;

    // Tighter than the defaults so that each case is cheap; the defaults are tested in TemplateLimitsTests.
    internal static readonly TemplateLimits FuzzLimits = new() { MaxAllocatedLength = 8L << 20, MaxIterations = 200_000, MaxOutputLength = 1 << 20, MaxRenderTime = TimeSpan.FromSeconds(5) };

    internal static JsonObject Context() => new()
    {
        ["messages"] = new JsonArray(
            new JsonObject { ["role"] = "system", ["content"] = "sys" },
            new JsonObject { ["role"] = "user", ["content"] = "hi 😀" },
            new JsonObject { ["role"] = "assistant", ["content"] = "yo", ["tool_calls"] = new JsonArray(new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "f", ["arguments"] = new JsonObject { ["a"] = 1 } } }) },
            new JsonObject { ["role"] = "tool", ["content"] = "42" }),
        ["tools"] = new JsonArray(new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "f", ["parameters"] = new JsonObject { ["type"] = "object" } } }),
        ["d"] = new JsonObject { ["a"] = 1, ["b"] = "é" },
        ["l"] = new JsonArray(3, 1, 2),
        ["s"] = "hé👍",
        ["n"] = null,
        ["add_generation_prompt"] = true,
        ["bos_token"] = "<s>",
        ["eos_token"] = "</s>",
    };

    /// <summary>Parses and renders one case; returns the problem, or null when it rendered or raised a TemplateException.</summary>
    internal static string? Check(string source, JsonObject context)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        try
        {
            ChatTemplate.Parse(source).Render(context, TimeProvider.System, FuzzLimits, CancellationToken.None);
        }
        catch (TemplateException)
        {
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}\n--- template ---\n{source}";
        }
        if (sw.Elapsed > TimeSpan.FromSeconds(5)) return $"took {sw.Elapsed}\n--- template ---\n{source}";
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > 1L << 30) return $"allocated {allocated:N0} bytes\n--- template ---\n{source}";
        return null;
    }

    [Fact]
    public void GrammarTemplates_OnlySucceedOrThrowTemplateException()
    {
        var fuzz = new TemplateFuzz(Seed);
        int n = 5000 * Scale;
        var failures = new List<string>();
        var context = Context();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < n && failures.Count < 5; i++)
        {
            if (Check(fuzz.Statements(), context) is { } problem) failures.Add(problem);
        }
        output.WriteLine($"{n} grammar cases, seed {Seed}, {sw.Elapsed.TotalSeconds:0.0} s");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    [Fact]
    public void MutatedRealTemplates_OnlySucceedOrThrowTemplateException()
    {
        var fuzz = new TemplateFuzz(Seed + 1);
        var sources = Directory.GetFiles(Path.Combine(TemplateTestData.Dir, "sources"), "*.jinja").OrderBy(f => f, StringComparer.Ordinal).Select(File.ReadAllText).ToArray();
        int n = 3000 * Scale;
        var failures = new List<string>();
        var context = Context();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < n && failures.Count < 5; i++)
        {
            if (Check(fuzz.Mutate(sources[i % sources.Length]), context) is { } problem) failures.Add(problem);
        }
        output.WriteLine($"{n} mutated cases, seed {Seed + 1}, {sw.Elapsed.TotalSeconds:0.0} s");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    /// <summary>Deep and recursive templates in a child process (this test assembly, run with a switch): it must exit 0.</summary>
    [Fact]
    public async Task DeepAndRecursiveTemplates_InAChildProcess_DoNotCrash()
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(typeof(TemplateFuzzTests).Assembly.Location);
        psi.ArgumentList.Add(ChildSwitch);
        using var child = Process.Start(psi)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try { await child.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            child.Kill(entireProcessTree: true);
            Assert.Fail("the child did not finish within 2 minutes");
        }
        string childOut = await stdout, childErr = await stderr;
        output.WriteLine(childOut);
        Assert.True(child.ExitCode == 0, $"child exit code {child.ExitCode} (a crash such as a stack overflow?)\n{childOut}\n{childErr}");
    }

    /// <summary>The child's work: every hostile template on a pool-sized (1.5 MiB) thread stack; exit 1 on a wrong exception.</summary>
    internal static int RunChild()
    {
        int failures = 0, cases = 0;
        var context = Context();
        // A context nested 100,000 deep (JsonObject built in code has no depth limit).
        JsonNode deep = new JsonArray();
        for (int i = 0; i < 100_000; i++) deep = new JsonArray(deep);
        var deepContext = new JsonObject { ["messages"] = new JsonArray(deep) };
        var thread = new Thread(() =>
        {
            foreach (var source in TemplateFuzz.Hostile())
            {
                cases++;
                var problem = Check(source, source.Contains("tojson", StringComparison.Ordinal) ? deepContext : context);
                if (problem is null) continue;
                failures++;
                Console.WriteLine(problem.Length > 2000 ? problem[..2000] : problem);
            }
        }, 1536 * 1024);
        thread.Start();
        thread.Join();
        Console.WriteLine($"{cases} hostile templates, {failures} failures");
        return failures == 0 ? 0 : 1;
    }
}
