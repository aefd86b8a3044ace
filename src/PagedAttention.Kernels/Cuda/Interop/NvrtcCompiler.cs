using System.Runtime.InteropServices;
using System.Text;

namespace PagedAttention.Kernels.Cuda.Interop;

/// <summary>
/// Compiles header-free CUDA C++ to PTX (for a virtual <c>compute_XX</c> architecture) or to a CUBIN (for a real
/// <c>sm_XX</c>/<c>sm_90a</c> one) with NVRTC. Needs no GPU; the CUDA driver loads the result.
/// </summary>
internal unsafe class NvrtcCompiler
{
    /// <summary>Whether an NVRTC library can be loaded on this machine.</summary>
    public static bool IsAvailable
    {
        get
        {
            try { _ = NvrtcNative.Instance; return true; }
            catch (CudaException) { return false; }
        }
    }

    /// <summary>The NVRTC version as (major, minor).</summary>
    public static (int Major, int Minor) Version
    {
        get
        {
            var n = NvrtcNative.Instance;
            int major, minor;
            n.Check(n.nvrtcVersion(&major, &minor), "nvrtcVersion");
            return (major, minor);
        }
    }

    /// <summary>
    /// Compiles <paramref name="source"/> for <paramref name="arch"/>: <c>compute_XX</c> yields PTX text (NUL-terminated
    /// bytes), <c>sm_XX</c> yields a CUBIN. <paramref name="defines"/> become <c>-D</c> options.
    /// </summary>
    /// <exception cref="CudaException">NVRTC is missing or the source does not compile; the message holds NVRTC's log.</exception>
    public static byte[] Compile(string source, string programName, string arch, IEnumerable<KeyValuePair<string, string>>? defines = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentException.ThrowIfNullOrEmpty(programName);
        ArgumentException.ThrowIfNullOrEmpty(arch);
        bool ptx = arch.StartsWith("compute_", StringComparison.Ordinal);
        if (!ptx && !arch.StartsWith("sm_", StringComparison.Ordinal))
            throw new ArgumentException($"arch must be compute_XX or sm_XX, not '{arch}'.", nameof(arch));
        var n = NvrtcNative.Instance;
        var options = new List<string> { $"--gpu-architecture={arch}", "--std=c++17", "-default-device", "-lineinfo" };
        if (defines is not null) foreach (var (k, v) in defines) options.Add($"-D{k}={v}");

        var handles = new List<nint>();
        byte* Utf8(string s)
        {
            nint h = Marshal.StringToCoTaskMemUTF8(s);
            handles.Add(h);
            return (byte*)h;
        }
        nint prog = 0;
        try
        {
            n.Check(n.nvrtcCreateProgram(&prog, Utf8(source), Utf8(programName), 0, null, null), "nvrtcCreateProgram", programName);
            var opts = stackalloc byte*[options.Count];
            for (int i = 0; i < options.Count; i++) opts[i] = Utf8(options[i]);
            int rc = n.nvrtcCompileProgram(prog, options.Count, opts);
            if (rc != 0) n.Check(rc, "nvrtcCompileProgram", $"{programName} for {arch}:\n{Log(n, prog)}");
            nuint size;
            byte[] image;
            if (ptx)
            {
                n.Check(n.nvrtcGetPTXSize(prog, &size), "nvrtcGetPTXSize");
                image = new byte[(int)size];
                fixed (byte* p = image) n.Check(n.nvrtcGetPTX(prog, p), "nvrtcGetPTX");
            }
            else
            {
                n.Check(n.nvrtcGetCUBINSize(prog, &size), "nvrtcGetCUBINSize");
                image = new byte[(int)size];
                fixed (byte* p = image) n.Check(n.nvrtcGetCUBIN(prog, p), "nvrtcGetCUBIN");
            }
            return image;
        }
        finally
        {
            if (prog != 0) n.nvrtcDestroyProgram(&prog);
            foreach (var h in handles) Marshal.FreeCoTaskMem(h);
        }
    }

    private static string Log(NvrtcNative n, nint prog)
    {
        nuint size;
        if (n.nvrtcGetProgramLogSize(prog, &size) != 0 || size <= 1) return "(no log)";
        var buf = new byte[(int)size];
        fixed (byte* p = buf) n.nvrtcGetProgramLog(prog, p);
        return Encoding.UTF8.GetString(buf, 0, buf.Length - 1);
    }
}
