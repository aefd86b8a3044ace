using System.Globalization;
using System.Reflection;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// The CUDA C++ sources of the kernels, embedded in this assembly (Cuda/Kernels/*.cu). <c>common.cu</c> is a prelude
/// that every other file needs; <see cref="ModuleSource"/> is the prelude plus all files, compiled as one module.
/// </summary>
internal static class CudaKernelSources
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

    /// <summary>
    /// The <c>-D</c> defines every kernel file is compiled with: the model shape (<c>HEAD_DIM</c>, <c>GROUP</c>) and the
    /// launch constants that the host side defines once (<see cref="CudaKernels"/>'s thread counts, tile sizes and
    /// struct sizes). The .cu files have no defaults for these: a missing one stops the compilation with an
    /// <c>#error</c> naming it, and <c>static_assert</c>s there check the relations the kernels rely on.
    /// </summary>
    /// <param name="headDim">Elements per head.</param>
    /// <param name="group">Query heads per KV head.</param>
    public static IReadOnlyDictionary<string, string> Defines(int headDim, int group)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(headDim);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(group);
        var inv = CultureInfo.InvariantCulture;
        return new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["HEAD_DIM"] = headDim.ToString(inv),
            ["GROUP"] = group.ToString(inv),
            ["ATT_THREADS"] = CudaKernels.AttentionThreads.ToString(inv),
            ["PF_THREADS"] = CudaKernels.PrefillThreads.ToString(inv),
            ["PF_BQ"] = CudaKernels.PrefillTileRows.ToString(inv),
            ["PF_BK"] = CudaKernels.PrefillKeyTile.ToString(inv),
            ["GEMV_THREADS"] = CudaKernels.GemvThreads.ToString(inv),
            ["GEMV_MAX_M"] = CudaKernels.GemvMaxRows.ToString(inv),
            ["SAMPLE_THREADS"] = CudaKernels.SampleThreads.ToString(inv),
            ["SAMPLE_ROW_BYTES"] = CudaKernels.SampleRowBytes.ToString(inv),
            ["EMPTY_MASK_TOKEN"] = CudaKernels.EmptyMaskToken.ToString(inv),
        };
    }
}
