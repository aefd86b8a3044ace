// TemplateBench: chat-template renders per second for a 10-message conversation, this renderer vs.
// Python Jinja2 (configured like transformers) measured in the same run.
// usage: dotnet run -c Release --project bench/TemplateBench [-- <seconds per measurement, default 3>]
//        dotnet bench/TemplateBench/bin/Release/net10.0/TemplateBench.dll --ab <other PagedAttention.Text.dll> [rounds]
//        (A/B: this build against another build of the template engine, in one process, interleaved 0.5 s slices,
//        best slice of each; robust to the load of a shared machine)
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using PagedAttention.Text.Templates;

var root = FindRepoRoot();
if (args.Length > 0 && args[0] == "--ab")
{
    AbBench.Run(root, args[1], args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20);
    return;
}
var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 3.0;
var sources = Path.Combine(root, "tests", "PagedAttention.Tests", "Data", "templates", "sources");

// 10 messages: a system prompt and 9 alternating user/assistant turns, ending with a user turn.
var messages = new JsonArray { new JsonObject { ["role"] = "system", ["content"] = "You are a helpful assistant. Answer concisely and cite sources when you can." } };
for (int i = 0; i < 9; i++)
{
    messages.Add(i % 2 == 0
        ? new JsonObject { ["role"] = "user", ["content"] = $"Question {i / 2 + 1}: how does paged attention share KV-cache blocks between requests with a common prefix?" }
        : new JsonObject { ["role"] = "assistant", ["content"] = $"Answer {i / 2 + 1}: identical prefix blocks are hashed and reference-counted, so later requests reuse them instead of recomputing." });
}
var context = new JsonObject
{
    ["messages"] = messages,
    ["add_generation_prompt"] = true,
    ["bos_token"] = "<|begin_of_text|>",
    ["eos_token"] = "<|eot_id|>",
    ["date_string"] = "26 Jul 2024",
};
var contextFile = Path.Combine(Path.GetTempPath(), $"templatebench-{Environment.ProcessId}.json");
File.WriteAllText(contextFile, context.ToJsonString());

Console.WriteLine($"Chat template renders/s, 10-message conversation, {seconds:0.#} s per measurement, {Environment.ProcessorCount} logical CPUs");
Console.WriteLine();
Console.WriteLine("| template | PagedAttention.AI (C#) renders/s | µs/render | Python Jinja2 3.1 renders/s | speed-up |");
Console.WriteLine("|---|---:|---:|---:|---:|");
foreach (var name in new[] { "llama-3.1", "qwen3" })
{
    var path = Path.Combine(sources, name + ".jinja");
    var template = ChatTemplate.Parse(File.ReadAllText(path));
    double csharp = Measure(template, context, seconds);
    double python = RunPython(Path.Combine(root, "bench", "TemplateBench", "peer_jinja.py"), path, contextFile, seconds);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {name} | {csharp:N0} | {1e6 / csharp:0.0} | {(double.IsNaN(python) ? "n/a" : python.ToString("N0", CultureInfo.InvariantCulture))} | {(double.IsNaN(python) ? "n/a" : (csharp / python).ToString("0.0", CultureInfo.InvariantCulture) + "x")} |"));
}
File.Delete(contextFile);

static double Measure(ChatTemplate template, JsonObject context, double seconds)
{
    int length = 0;
    for (int i = 0; i < 2000; i++) length += template.Render(context).Length; // warm-up: JIT tiers, caches
    var sw = Stopwatch.StartNew();
    long n = 0;
    while (sw.Elapsed.TotalSeconds < seconds)
    {
        for (int i = 0; i < 200; i++) length += template.Render(context).Length;
        n += 200;
    }
    GC.KeepAlive(length);
    return n / sw.Elapsed.TotalSeconds;
}

static double RunPython(string script, string template, string contextFile, double seconds)
{
    try
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { script, template, contextFile, seconds.ToString(CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) { Console.Error.WriteLine(error); return double.NaN; }
        return double.Parse(output.Trim(), CultureInfo.InvariantCulture);
    }
    catch (System.ComponentModel.Win32Exception)
    {
        return double.NaN; // no python3 on this machine
    }
}

static string FindRepoRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Directory.Build.props"))) return dir.FullName;
    throw new InvalidOperationException("Run from inside the repository (Directory.Build.props not found).");
}
