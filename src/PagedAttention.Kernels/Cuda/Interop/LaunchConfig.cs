using System.Runtime.InteropServices;

namespace PagedAttention.Kernels.Cuda.Interop;

/// <summary>CUlaunchConfig of the driver API (cuda.h), for <c>cuLaunchKernelEx</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct LaunchConfig
{
    public uint GridX, GridY, GridZ, BlockX, BlockY, BlockZ, SharedMemBytes;
    public nint Stream;
    public LaunchAttribute* Attributes;
    public uint NumAttributes;
}

/// <summary>
/// CUlaunchAttribute: a 4-byte id, 4 bytes of padding and a 64-byte value union, of which only the first 4 bytes are
/// used here.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 72)]
internal struct LaunchAttribute
{
    /// <summary>CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION.</summary>
    public const int ProgrammaticStreamSerialization = 6;

    [FieldOffset(0)] public int Id;
    [FieldOffset(8)] public uint Value;
}
