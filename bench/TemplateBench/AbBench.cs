using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;
using System.Text.Json.Nodes;
using PagedAttention.Text.Templates;

/// <summary>
/// Renders/s of this build's template engine against another build (an older PagedAttention.Text.dll), loaded side by
/// side in one process and measured in alternating slices, so that the other engineers' load on the machine hits both
/// alike; the best slice of each is reported.
/// </summary>
internal static class AbBench
{
    public static void Run(string root, string otherDll, int rounds)
    {
        var sources = Path.Combine(root, "tests", "PagedAttention.Tests", "Data", "templates", "sources");
        var other = new AssemblyLoadContext("other", isCollectible: false).LoadFromAssemblyPath(Path.GetFullPath(otherDll));
        var otherType = other.GetType("PagedAttention.Text.Templates.ChatTemplate", throwOnError: true)!;
        var otherParse = otherType.GetMethod("Parse", BindingFlags.Public | BindingFlags.Static, [typeof(string)])!;
        var otherRender = otherType.GetMethod("Render", BindingFlags.Public | BindingFlags.Instance, [typeof(JsonObject)])!;
        var context = Context();
        Console.WriteLine($"A/B renders/s, 10-message conversation, {rounds} alternating 0.5 s slices each, best slice; B = {otherDll}");
        Console.WriteLine();
        Console.WriteLine("| template | this build renders/s | other build renders/s | this / other |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var name in new[] { "llama-3.1", "qwen3" })
        {
            string text = File.ReadAllText(Path.Combine(sources, name + ".jinja"));
            var mine = ChatTemplate.Parse(text);
            Func<JsonObject, string> a = mine.Render;
            var b = otherRender.CreateDelegate<Func<JsonObject, string>>(otherParse.Invoke(null, [text]));
            if (a(context) != b(context)) throw new InvalidOperationException($"{name}: the two builds render differently");
            double bestA = 0, bestB = 0;
            Slice(a, context, 1.0);
            Slice(b, context, 1.0); // warm-up: JIT tiers
            for (int r = 0; r < rounds; r++)
            {
                bestA = Math.Max(bestA, Slice(a, context, 0.5));
                bestB = Math.Max(bestB, Slice(b, context, 0.5));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {bestA:N0} | {bestB:N0} | {bestA / bestB:0.00} |"));
        }
    }

    private static double Slice(Func<JsonObject, string> render, JsonObject context, double seconds)
    {
        int length = 0;
        long n = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            for (int i = 0; i < 50; i++) length += render(context).Length;
            n += 50;
        }
        GC.KeepAlive(length);
        return n / sw.Elapsed.TotalSeconds;
    }

    private static JsonObject Context()
    {
        var messages = new JsonArray { new JsonObject { ["role"] = "system", ["content"] = "You are a helpful assistant. Answer concisely and cite sources when you can." } };
        for (int i = 0; i < 9; i++)
        {
            messages.Add(i % 2 == 0
                ? new JsonObject { ["role"] = "user", ["content"] = $"Question {i / 2 + 1}: how does paged attention share KV-cache blocks between requests with a common prefix?" }
                : new JsonObject { ["role"] = "assistant", ["content"] = $"Answer {i / 2 + 1}: identical prefix blocks are hashed and reference-counted, so later requests reuse them instead of recomputing." });
        }
        return new JsonObject
        {
            ["messages"] = messages,
            ["add_generation_prompt"] = true,
            ["bos_token"] = "<|begin_of_text|>",
            ["eos_token"] = "<|eot_id|>",
            ["date_string"] = "26 Jul 2024",
        };
    }
}
