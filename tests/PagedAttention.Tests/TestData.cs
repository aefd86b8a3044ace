namespace PagedAttention.Tests;

internal static class TestData
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Data");

    public static string Model(string name) => Path.Combine(Root, "models", name);

    /// <summary>The GPTQ checkpoints of tools/gptq (kept out of models/, which the GPU checks run whole on CUDA).</summary>
    public static string GptqModel(string name) => Path.Combine(Root, "gptq", name);

    /// <summary>The compressed-tensors FP8 checkpoints of tools/fp8 (out of models/ for the same reason).</summary>
    public static string Fp8Model(string name) => Path.Combine(Root, "fp8", name);

    /// <summary>The repository root (holds Provider.sln), found from the test binary's location.</summary>
    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Provider.sln"))) return d.FullName;
            throw new InvalidOperationException("Provider.sln not found above " + AppContext.BaseDirectory);
        }
    }
}
