using System.Runtime.InteropServices;

namespace PagedAttention.Kernels.Cuda.Interop;

/// <summary>Loads the first CUDA library of a list of sonames and resolves its exports.</summary>
internal static class NativeLoader
{
    /// <summary>Loads the first name that the dynamic loader finds, or throws a <see cref="CudaException"/> listing all of them.</summary>
    public static nint Load(string what, params string[] names)
    {
        foreach (var name in names)
            if (NativeLibrary.TryLoad(name, out var handle)) return handle;
        throw new CudaException(
            $"{what} could not be loaded (tried {string.Join(", ", names)}). Install the NVIDIA driver / CUDA libraries " +
            "or put them on LD_LIBRARY_PATH; the CPU backend works without them.");
    }

    /// <summary>The address of <paramref name="symbol"/> in <paramref name="lib"/>; throws if it is not exported.</summary>
    public static nint Export(nint lib, string what, string symbol) =>
        NativeLibrary.TryGetExport(lib, symbol, out var p) ? p
        : throw new CudaException($"{what} has no export {symbol}; the installed version is too old.");
}
