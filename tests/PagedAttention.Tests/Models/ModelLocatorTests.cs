using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.AI.Sampling;

namespace PagedAttention.Tests.Models;

/// <summary>
/// ModelPath as users write it: nothing, a relative path, a file in the model directory, a Hugging Face hub cache
/// folder or repo id (a real symlinked layout: blobs/, snapshots/&lt;rev&gt;/ links, refs/main), GGUF.
/// </summary>
public sealed class ModelLocatorTests : IDisposable
{
    private const string Revision = "0123456789abcdef0123456789abcdef01234567";
    private readonly string _root = Directory.CreateTempSubdirectory("pa-locator-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    /// <summary>hub/models--org--tiny as huggingface_hub writes it: content-addressed blobs, snapshot files are relative symlinks.</summary>
    private string MakeHubCache(string hub, string repoFolder = "models--org--tiny")
    {
        string repo = Path.Combine(hub, repoFolder);
        string blobs = Directory.CreateDirectory(Path.Combine(repo, "blobs")).FullName;
        string snapshot = Directory.CreateDirectory(Path.Combine(repo, "snapshots", Revision)).FullName;
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), Revision);
        int n = 0;
        foreach (string file in Directory.GetFiles(TestData.Model("llama")))
        {
            string blob = $"blob{n++:x40}";
            File.Copy(file, Path.Combine(blobs, blob));
            File.CreateSymbolicLink(Path.Combine(snapshot, Path.GetFileName(file)), Path.Combine("..", "..", "blobs", blob));
        }
        return repo;
    }

    [Fact]
    public void EmptyPathIsTheDefaultModelNextToTheApplication()
    {
        string dir = ModelLocator.Resolve("");
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, ModelLocator.DefaultModelFolder), dir);
        Assert.True(File.Exists(Path.Combine(dir, "model.safetensors")));
        Assert.Equal(dir, ModelLocator.Resolve(null));
    }

    [Fact]
    public void RelativePathResolvesToAFullPath()
    {
        // The test host's working directory is the output folder, so both candidates point at the copied default model.
        string dir = ModelLocator.Resolve(ModelLocator.DefaultModelFolder);
        Assert.True(Path.IsPathFullyQualified(dir));
        Assert.True(File.Exists(Path.Combine(dir, "config.json")));
    }

    [Fact]
    public void MissingPathNamesEveryPathTriedAndTheWorkingDirectory()
    {
        var e = Assert.Throws<ModelLoadException>(() => ModelLocator.Resolve("no/such/model-dir"));
        Assert.Contains(Path.GetFullPath("no/such/model-dir", Environment.CurrentDirectory), e.Message);
        Assert.Contains(Path.GetFullPath("no/such/model-dir", AppContext.BaseDirectory), e.Message);
        Assert.Contains("working directory is " + Environment.CurrentDirectory, e.Message);
    }

    [Fact]
    public void FileInsideAModelDirectoryTakesTheDirectory()
    {
        string model = TestData.Model("llama");
        Assert.Equal(Path.GetFullPath(model), ModelLocator.Resolve(Path.Combine(model, "config.json")));
        Assert.Equal(Path.GetFullPath(model), ModelLocator.Resolve(Path.Combine(model, "model.safetensors")));
    }

    [Fact]
    public void GgufFileIsRefusedNamingTheFormatAndWhatIsSupported()
    {
        string file = Path.Combine(_root, "model-Q4_K_M.gguf");
        File.WriteAllBytes(file, [.. "GGUF"u8, 3, 0, 0, 0]);
        var e = Assert.Throws<ModelLoadException>(() => ModelLocator.Resolve(file));
        Assert.Contains("GGUF", e.Message);
        Assert.Contains("safetensors", e.Message);
        Assert.Contains("config.json", e.Message);
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Equal(file, e.FilePath);

        // A renamed GGUF file is known by its magic.
        string renamed = Path.Combine(_root, "weights.bin");
        File.Copy(file, renamed);
        Assert.Contains("GGUF", Assert.Throws<ModelLoadException>(() => ModelLocator.Resolve(renamed)).Message);
    }

    [Fact]
    public async Task DirectoryOfGgufFilesIsRefused()
    {
        string dir = Directory.CreateDirectory(Path.Combine(_root, "gguf-model")).FullName;
        File.WriteAllBytes(Path.Combine(dir, "model.gguf"), [.. "GGUF"u8, 3, 0, 0, 0]);
        File.WriteAllText(Path.Combine(dir, "README.md"), "a llama.cpp model");
        var e = Assert.Throws<ModelLoadException>(() => ModelLocator.Resolve(dir));
        Assert.Contains("GGUF", e.Message);
        Assert.Contains("safetensors", e.Message);
        // Through the engine too: the same message, not "config.json not found".
        var load = await Assert.ThrowsAsync<ModelLoadException>(() => LlmEngine.LoadAsync(new EngineOptions { ModelPath = dir }));
        Assert.Contains("GGUF", load.Message);
    }

    [Fact]
    public void HubCacheFolderResolvesToTheRefsMainSnapshot()
    {
        string repo = MakeHubCache(Path.Combine(_root, "hub"));
        Assert.Equal(Path.Combine(repo, "snapshots", Revision), ModelLocator.Resolve(repo));
        // A file inside the snapshot (a symlink into blobs/) takes the snapshot, not the blob folder.
        Assert.Equal(Path.Combine(repo, "snapshots", Revision), ModelLocator.Resolve(Path.Combine(repo, "snapshots", Revision, "config.json")));
    }

    [Fact]
    public void RepoIdResolvesThroughHfHubCacheAndHfHome()
    {
        string hub = Path.Combine(_root, "home", "hub");
        string repo = MakeHubCache(hub);
        string expected = Path.Combine(repo, "snapshots", Revision);
        Assert.Equal(expected, ModelLocator.Resolve("org/tiny", Env(("HF_HUB_CACHE", hub))));
        Assert.Equal(expected, ModelLocator.Resolve("org/tiny", Env(("HF_HOME", Path.Combine(_root, "home")))));
        // HF_HUB_CACHE wins over HF_HOME, as in huggingface_hub.
        Assert.Equal(expected, ModelLocator.Resolve("org/tiny", Env(("HF_HUB_CACHE", hub), ("HF_HOME", Path.Combine(_root, "elsewhere")))));

        var e = Assert.Throws<ModelLoadException>(() => ModelLocator.Resolve("org/other", Env(("HF_HUB_CACHE", hub))));
        Assert.Contains(Path.Combine(hub, "models--org--other"), e.Message);
        Assert.Contains("HF_HUB_CACHE", e.Message);
    }

    [Fact]
    public void HubCacheWithoutRefsTakesALoneSnapshotAndRefusesToGuessBetweenSeveral()
    {
        string repo = MakeHubCache(Path.Combine(_root, "hub"));
        File.Delete(Path.Combine(repo, "refs", "main"));
        Assert.Equal(Path.Combine(repo, "snapshots", Revision), ModelLocator.Resolve(repo));
        Directory.CreateDirectory(Path.Combine(repo, "snapshots", "fedcba"));
        var e = Assert.Throws<ModelLoadException>(() => ModelLocator.Resolve(repo));
        Assert.Contains("2 snapshots", e.Message);
    }

    [Fact]
    public void RefsMainNamingAMissingSnapshotSaysSo()
    {
        string repo = MakeHubCache(Path.Combine(_root, "hub"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), "ffffffffffffffffffffffffffffffffffffffff\n");
        var e = Assert.Throws<ModelLoadException>(() => ModelLocator.Resolve(repo));
        Assert.Contains("ffffffffffffffffffffffffffffffffffffffff", e.Message);
        Assert.Contains("snapshot", e.Message);
    }

    [Fact]
    public async Task EngineLoadsAndGeneratesFromASymlinkedHubCache()
    {
        string repo = MakeHubCache(Path.Combine(_root, "hub"));
        var expected = await Generate(TestData.Model("llama"));
        Assert.Equal(expected, await Generate(repo));
    }

    private static async Task<List<int>> Generate(string modelPath)
    {
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = modelPath, NumKvBlocks = 16 });
        var ids = new List<int>();
        await foreach (var o in engine.GenerateAsync([1, 2, 3], new SamplingParams { Temperature = 0, MaxTokens = 4 }))
            ids.Add(o.TokenId);
        return ids;
    }
}
