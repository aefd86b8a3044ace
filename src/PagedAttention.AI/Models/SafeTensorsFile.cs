using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace PagedAttention.AI.Models;

/// <summary>
/// One memory-mapped <c>.safetensors</c> file: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the data. The header is validated completely
/// (<see cref="SafeTensorsHeader"/>) before any tensor is used; tensor data is never copied onto the managed heap.
/// A symbolic link (the Hugging Face cache layout) is resolved first: its target's length and contents are used.
/// </summary>
internal sealed unsafe class SafeTensorsFile : IDisposable
{
    private const long MaxHeaderBytes = 100L << 20;
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly Dictionary<string, TensorInfo> _tensors = new(StringComparer.Ordinal);

    private SafeTensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePtr;
    }

    /// <summary>The path as given (a link keeps its own name in messages).</summary>
    public string Path { get; }

    public IReadOnlyDictionary<string, TensorInfo> Tensors => _tensors;

    public static SafeTensorsFile Open(string path)
    {
        var target = ModelFiles.Resolve(path);
        long length = target.Length;
        if (length < 8) throw new ModelLoadException(path, null, $"truncated: {length} bytes, too short for the 8-byte header length.");
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(target.FullName, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            p += view.PointerOffset;
            var file = new SafeTensorsFile(path, map, view, p);
            try { file.ReadHeader(length); }
            catch { file.Dispose(); throw; }
            return file;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            view?.Dispose();
            map?.Dispose();
            throw new ModelLoadException(path, null, $"cannot map the file: {e.Message}", e);
        }
    }

    private void ReadHeader(long length)
    {
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_base, 8));
        if (headerLen > (ulong)(length - 8))
            throw new ModelLoadException(Path, null, $"header length {headerLen} runs past the end of the file ({length} bytes): the file is truncated or not safetensors.");
        if ((long)headerLen > MaxHeaderBytes) throw new ModelLoadException(Path, null, $"header length {headerLen} exceeds the {MaxHeaderBytes}-byte limit.");
        long dataStart = 8 + (long)headerLen, dataLen = length - dataStart;
        foreach (var t in SafeTensorsHeader.Parse(Path, new ReadOnlySpan<byte>(_base + 8, (int)headerLen), dataLen))
            _tensors.Add(t.Name, new TensorInfo(t.Name, Path, t.DType, t.Shape, (nint)(_base + dataStart + t.Begin), t.Begin, t.End));
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
