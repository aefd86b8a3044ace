using System.Security.Cryptography;
using System.Text;
using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// Compiles kernel modules with NVRTC once per (source, target architecture, defines — all of them, see
/// <see cref="CudaKernelSources.Defines"/> — NVRTC version) and keeps the
/// image on disk, so that a process start costs a file read instead of seconds of compilation.
/// Directory: <see cref="RuntimeSwitches.KernelCacheDirectory"/> (<c>$PAGEDATTENTION_KERNEL_CACHE</c>), else
/// <c>~/.cache/PagedAttention/kernels</c>; an unwritable directory only disables the cache.
/// </summary>
internal static class KernelCache
{
    public static string DefaultDirectory =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "PagedAttention", "kernels");

    /// <summary>The cache directory <paramref name="switches"/> select.</summary>
    public static string DirectoryFor(RuntimeSwitches switches) => switches.KernelCacheDirectory ?? DefaultDirectory;

    public static byte[] GetOrCompile(RuntimeSwitches switches, string source, string name, string arch, IReadOnlyDictionary<string, string> defines, out bool fromCache)
    {
        string directory = DirectoryFor(switches);
        var (major, minor) = NvrtcCompiler.Version;
        var key = new StringBuilder().Append(arch).Append('|').Append(major).Append('.').Append(minor);
        foreach (var (k, v) in defines.OrderBy(kv => kv.Key, StringComparer.Ordinal)) key.Append('|').Append(k).Append('=').Append(v);
        key.Append('|').Append(source);
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key.ToString())));
        string path = Path.Combine(directory, $"{name}-{arch}-{hash[..24]}.bin");
        try
        {
            if (File.Exists(path)) { fromCache = true; return File.ReadAllBytes(path); }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        var image = NvrtcCompiler.Compile(source, name + ".cu", arch, defines);
        fromCache = false;
        try
        {
            Directory.CreateDirectory(directory);
            string tmp = path + "." + Environment.ProcessId + ".tmp";
            File.WriteAllBytes(tmp, image);
            File.Move(tmp, path, overwrite: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return image;
    }
}
