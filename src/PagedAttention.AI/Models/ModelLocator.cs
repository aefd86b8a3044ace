namespace PagedAttention.AI.Models;

/// <summary>
/// Turns what a user puts in <c>EngineOptions.ModelPath</c> into the model directory the loader reads: nothing (the
/// default model next to the application), a model directory, a file inside one, a Hugging Face hub cache folder
/// (<c>models--org--name</c>, resolved through <c>refs/main</c> to its snapshot) or a repo id (<c>org/name</c>) looked
/// up in the hub cache. GGUF is recognised and refused with a message saying what is read instead.
/// Runs before anything is mapped, so every "not found" names the full paths it tried and the working directory.
/// </summary>
internal static class ModelLocator
{
    /// <summary>The folder, next to the application, that the PagedAttention.AI package copies its default model into.</summary>
    public const string DefaultModelFolder = "PagedAttention.DefaultModel";

    private const string Supported = "PagedAttention.AI reads Hugging Face checkpoints: a directory with config.json, " +
        "*.safetensors (model.safetensors or a model.safetensors.index.json with its shards) and tokenizer.json";

    /// <summary>The directory the default model is expected in: <see cref="AppContext.BaseDirectory"/>/<see cref="DefaultModelFolder"/>.</summary>
    public static string DefaultModelDirectory => Path.Combine(AppContext.BaseDirectory, DefaultModelFolder);

    /// <summary>Resolves <paramref name="modelPath"/> to an absolute model directory.</summary>
    /// <param name="modelPath">As the user gave it; null or blank means the default model.</param>
    /// <param name="environment">Reads environment variables (HF_HUB_CACHE, HF_HOME); null reads the process's. Tests pass their own.</param>
    /// <exception cref="ModelLoadException">Nothing usable is found (the message lists every path tried), or the model is GGUF.</exception>
    public static string Resolve(string? modelPath, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (string.IsNullOrWhiteSpace(modelPath))
        {
            string dir = DefaultModelDirectory;
            if (File.Exists(Path.Combine(dir, "config.json"))) return dir;
            throw new ModelLoadException(dir, null,
                "EngineOptions.ModelPath is empty and the default model is not next to the application. The PagedAttention.AI " +
                $"package copies it to the build output's {DefaultModelFolder} folder; set ModelPath to a model directory otherwise.");
        }

        string path = ExpandHome(modelPath.Trim());
        var tried = new List<string>();
        foreach (string candidate in Candidates(path))
        {
            if (tried.Contains(candidate)) continue;
            tried.Add(candidate);
            if (File.Exists(candidate)) return FromFile(candidate);
            if (Directory.Exists(candidate)) return FromDirectory(candidate);
        }

        string? cache = null;
        if (LooksLikeRepoId(path))
        {
            cache = HubCacheDirectory(environment);
            string repo = Path.Combine(cache, "models--" + path.Replace("/", "--", StringComparison.Ordinal));
            if (Directory.Exists(repo)) return FromDirectory(repo);
        }
        string where = string.Join(", ", tried);
        string hub = cache is null ? "" : $", nor as the Hugging Face hub cache entry {Path.Combine(cache, "models--" + path.Replace("/", "--", StringComparison.Ordinal))} (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)";
        throw new ModelLoadException(path, null,
            $"model directory not found: looked for {where}{hub}; the working directory is {Environment.CurrentDirectory}.");
    }

    /// <summary>Relative paths: the working directory first, then the application's directory (where packaged models land).</summary>
    private static IEnumerable<string> Candidates(string path)
    {
        if (Path.IsPathRooted(path)) { yield return Path.GetFullPath(path); yield break; }
        yield return Path.GetFullPath(path, Environment.CurrentDirectory);
        yield return Path.GetFullPath(path, AppContext.BaseDirectory);
    }

    private static string FromFile(string file)
    {
        if (IsGguf(file))
            throw new ModelLoadException(file, null, $"this is a GGUF file (llama.cpp's format), which is not supported. {Supported}.");
        // A file inside a model directory (config.json, model.safetensors, ...) names that directory. Path.GetDirectoryName
        // keeps the path as given: in a hub cache snapshot the file is a symlink into blobs/, and the snapshot is the model.
        return FromDirectory(Path.GetDirectoryName(file)!);
    }

    private static string FromDirectory(string dir)
    {
        if (!File.Exists(Path.Combine(dir, "config.json")) && Directory.Exists(Path.Combine(dir, "snapshots")))
            return Snapshot(dir);
        if (!File.Exists(Path.Combine(dir, "config.json")))
        {
            var files = Directory.EnumerateFiles(dir).ToList();
            if (files.Count > 0 && files.Any(IsGguf) && !files.Any(f => f.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)))
                throw new ModelLoadException(dir, null, $"this directory holds GGUF files (llama.cpp's format), which are not supported. {Supported}.");
        }
        return dir;
    }

    /// <summary>
    /// A hub cache repo folder: <c>refs/main</c> holds the commit whose <c>snapshots/&lt;commit&gt;</c> folder is the
    /// model (as <c>huggingface_hub</c> resolves it); without refs/main, a lone snapshot is taken.
    /// </summary>
    private static string Snapshot(string repo)
    {
        string snapshots = Path.Combine(repo, "snapshots");
        string refFile = Path.Combine(repo, "refs", "main");
        if (File.Exists(refFile))
        {
            string revision = File.ReadAllText(refFile).Trim();
            if (revision.Length == 0 || revision.IndexOfAny(['/', '\\']) >= 0 || revision.Contains("..", StringComparison.Ordinal))
                throw new ModelLoadException(refFile, null, $"refs/main should hold a commit hash, found '{revision}'.");
            string snapshot = Path.Combine(snapshots, revision);
            if (Directory.Exists(snapshot)) return snapshot;
            throw new ModelLoadException(snapshot, null, $"refs/main names revision {revision}, but that snapshot is not in the cache (download it again, or pass a snapshot folder).");
        }
        var all = Directory.GetDirectories(snapshots);
        return all.Length switch
        {
            1 => all[0],
            0 => throw new ModelLoadException(snapshots, null, "this Hugging Face cache entry has no snapshot (the download did not finish)."),
            _ => throw new ModelLoadException(repo, null, $"this Hugging Face cache entry has no refs/main and {all.Length} snapshots ({string.Join(", ", all.Select(Path.GetFileName))}); pass the snapshot folder you want."),
        };
    }

    /// <summary>Where huggingface_hub keeps its cache: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub.</summary>
    public static string HubCacheDirectory(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (NonEmpty(environment("HF_HUB_CACHE")) is { } hubCache) return ExpandHome(hubCache);
        if (NonEmpty(environment("HUGGINGFACE_HUB_CACHE")) is { } legacy) return ExpandHome(legacy); // older huggingface_hub name
        if (NonEmpty(environment("HF_HOME")) is { } home) return Path.Combine(ExpandHome(home), "hub");
        string xdg = NonEmpty(environment("XDG_CACHE_HOME")) ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(xdg, "huggingface", "hub");
    }

    /// <summary>"org/name": two plain segments, as on the hub (letters, digits, '-', '_', '.'), not a relative path like "./x" or "../x".</summary>
    private static bool LooksLikeRepoId(string path)
    {
        var parts = path.Split('/');
        return parts.Length == 2 && parts.All(p => p.Length > 0 && p[0] != '.' && p.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'));
    }

    private static bool IsGguf(string file)
    {
        if (file.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) return true;
        // Renamed files still start with the magic "GGUF"; safetensors start with an 8-byte length, config files with text.
        try
        {
            using var s = File.OpenRead(file);
            Span<byte> magic = stackalloc byte[4];
            return s.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual("GGUF"u8);
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    private static string ExpandHome(string path) =>
        path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Length > 2 ? path[2..] : "")
            : path;

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}
