using System.Reflection;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// The CUDA C++ sources of the kernels, embedded in this assembly (Cuda/Kernels/*.cu). <c>common.cu</c> is a prelude
/// that every other file needs; <see cref="ModuleSource"/> is the prelude plus all files, compiled as one module.
/// </summary>
public static class CudaKernelSources
{
    /// <summary>The prelude file.</summary>
    public const string Prelude = "common.cu";

    private static readonly Lazy<IReadOnlyList<string>> s_files = new(() =>
        typeof(CudaKernelSources).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("cuda/", StringComparison.Ordinal))
            .Select(n => n["cuda/".Length..])
            .Where(n => n != Prelude)
            .Order(StringComparer.Ordinal)
            .ToArray());

    /// <summary>The kernel files other than the prelude, in a fixed order.</summary>
    public static IReadOnlyList<string> Files => s_files.Value;

    /// <summary>The text of one embedded file.</summary>
    public static string Read(string file)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        using var s = typeof(CudaKernelSources).Assembly.GetManifestResourceStream("cuda/" + file)
            ?? throw new ArgumentException($"No embedded kernel source '{file}'.", nameof(file));
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    /// <summary>The prelude followed by <paramref name="file"/>: a unit that compiles on its own.</summary>
    public static string Unit(string file) => Read(Prelude) + "\n" + Read(file);

    /// <summary>The prelude followed by every kernel file: the module the model runner loads.</summary>
    public static string ModuleSource => Read(Prelude) + "\n" + string.Join("\n", Files.Select(Read));
}
