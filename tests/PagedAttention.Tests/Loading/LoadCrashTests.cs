using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using Xunit.Abstractions;

namespace PagedAttention.Tests.Loading;

/// <summary>
/// Crash-type inputs for the loader (deeply nested JSON in every file it parses, in the safetensors header too, and
/// random truncations), run in a child process — this test assembly started with a switch — so that a stack overflow
/// or a fail-fast is reported as a failed test with its exit code instead of killing the test host. In the child,
/// every load runs on a thread with a thread-pool-sized stack and must end in a documented exception type.
/// </summary>
public sealed class LoadCrashTests(ITestOutputHelper output)
{
    internal const string ChildSwitch = "--load-crash-child";

    [Fact]
    public async Task HostileFiles_InAChildProcess_NeitherCrashNorThrowUndocumentedTypes()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(typeof(LoadCrashTests).Assembly.Location);
        psi.ArgumentList.Add(ChildSwitch);
        using var child = Process.Start(psi)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try { await child.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            child.Kill(entireProcessTree: true);
            Assert.Fail("the child did not finish within 3 minutes");
        }
        string o = await stdout, e = await stderr;
        output.WriteLine(o);
        Assert.True(child.ExitCode == 0, $"child exit code {child.ExitCode} (a crash such as a stack overflow?)\n{o}\n{e}");
        Assert.Contains("cases", o);
    }

    private static string Nested(int depth, char open, char close) => new string(open, depth) + new string(close, depth);

    /// <summary>The child's work; exit 1 when any load ends in an undocumented exception type.</summary>
    internal static int RunChild()
    {
        int cases = 0, failures = 0;
        var thread = new Thread(() =>
        {
            foreach (var (name, setUp) in Cases())
            {
                using var m = ScratchModelDir.Default();
                setUp(m);
                cases++;
                try { LlmEngine.LoadAsync(new EngineOptions { ModelPath = m.Dir, NumKvBlocks = 16 }).GetAwaiter().GetResult().DisposeAsync().AsTask().GetAwaiter().GetResult(); }
                catch (Exception ex) when (ex is ModelLoadException or ArgumentException) { }
                catch (Exception ex)
                {
                    failures++;
                    Console.WriteLine($"FAIL {name}: {ex.GetType().Name}: {ex.Message}");
                }
            }
        }, 1536 * 1024);
        thread.Start();
        thread.Join();
        Console.WriteLine($"{cases} cases, {failures} failures");
        return failures == 0 ? 0 : 1;
    }

    private static IEnumerable<(string, Action<ScratchModelDir>)> Cases()
    {
        const int deep = 100_000;
        foreach (var file in new[] { "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json" })
        {
            string f = file;
            yield return ($"{f}: {deep} nested arrays", m => File.WriteAllText(m[f], Nested(deep, '[', ']')));
            yield return ($"{f}: a field holding {deep} nested objects", m => File.WriteAllText(m[f], "{\"a\":" + string.Concat(Enumerable.Repeat("{\"a\":", deep)) + "1" + new string('}', deep + 1)));
        }
        yield return ("safetensors header: nested arrays", m =>
        {
            var (_, data) = m.ReadSafeTensors();
            m.WriteSafeTensorsRaw(Encoding.UTF8.GetBytes(Nested(deep, '[', ']')), data);
        });
        yield return ("safetensors header: nested in a tensor's shape", m =>
        {
            var (header, data) = m.ReadSafeTensors();
            var first = header.First(kv => kv.Key != "__metadata__").Key;
            string text = header.ToJsonString().Replace($"\"{first}\":{{", $"\"{first}\":{{\"x\":{Nested(deep, '[', ']')},", StringComparison.Ordinal);
            m.WriteSafeTensorsRaw(Encoding.UTF8.GetBytes(text), data);
        });
        yield return ("chat_template: 20,000 nested parentheses", m => m.EditJson("tokenizer_config.json", o => o["chat_template"] = "{{ " + Nested(20_000, '(', ')') + " }}"));
        var rnd = new Random(20261202);
        foreach (var file in new[] { "config.json", "tokenizer.json", "model.safetensors" })
            for (int i = 0; i < 10; i++)
            {
                string f = file;
                double cut = rnd.NextDouble();
                yield return ($"{f} truncated at {cut:P0}", m =>
                {
                    var bytes = File.ReadAllBytes(m[f]);
                    File.WriteAllBytes(m[f], bytes[..(int)(bytes.Length * cut)]);
                });
            }
    }
}
