using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;
using PagedAttention.Kernels;

namespace PagedAttention.AI.Models;

/// <summary>
/// One memory-mapped <c>.safetensors</c> file: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the data. The header is validated completely before any tensor is
/// used; tensor data is never copied onto the managed heap.
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

    public string Path { get; }

    public IReadOnlyDictionary<string, TensorInfo> Tensors => _tensors;

    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new ModelLoadException(path, null, "file not found.");
        long length = new FileInfo(path).Length;
        if (length < 8) throw new ModelLoadException(path, null, $"truncated: {length} bytes, too short for the 8-byte header length.");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            p += view.PointerOffset;
            var file = new SafeTensorsFile(path, map, view, p);
            try { file.ReadHeader(length); }
            catch { file.Dispose(); throw; }
            return file;
        }
        catch (ModelLoadException) { throw; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            view?.Dispose();
            map.Dispose();
            throw new ModelLoadException(path, null, $"cannot map the file: {e.Message}", e);
        }
    }

    private void ReadHeader(long length)
    {
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_base, 8));
        if (headerLen > (ulong)(length - 8))
            throw new ModelLoadException(Path, null, $"header length {headerLen} runs past the end of the file ({length} bytes): the file is truncated or not safetensors.");
        if ((long)headerLen > MaxHeaderBytes) throw new ModelLoadException(Path, null, $"header length {headerLen} exceeds the {MaxHeaderBytes}-byte limit.");
        var header = new ReadOnlySpan<byte>(_base + 8, (int)headerLen);
        long dataStart = 8 + (long)headerLen, dataLen = length - dataStart;
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header.ToArray()); }
        catch (JsonException e) { throw new ModelLoadException(Path, null, $"malformed header JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelLoadException(Path, null, "the header is not a JSON object.");
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__") continue;
                var info = ParseEntry(prop.Name, prop.Value, dataStart, dataLen);
                if (!_tensors.TryAdd(prop.Name, info)) throw new ModelLoadException(Path, prop.Name, "appears twice in the header.");
            }
        }
        CheckOverlaps();
    }

    private TensorInfo ParseEntry(string name, JsonElement e, long dataStart, long dataLen)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new ModelLoadException(Path, name, "header entry is not an object.");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw new ModelLoadException(Path, name, "header entry has no 'dtype' string.");
        string dtype = dt.GetString()!;
        int elementSize = ElementSize(dtype) ?? throw new ModelLoadException(Path, name, $"unknown dtype '{dtype}'.");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw new ModelLoadException(Path, name, "header entry has no 'shape' list.");
        var shape = new long[sh.GetArrayLength()];
        long count = 1;
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0) throw new ModelLoadException(Path, name, $"shape {sh.GetRawText()} has an invalid dimension.");
            shape[i++] = v;
            count = checked(count * v);
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end))
            throw new ModelLoadException(Path, name, "header entry has no valid 'data_offsets' [begin, end].");
        if (begin < 0 || end < begin || end > dataLen)
            throw new ModelLoadException(Path, name, $"data_offsets [{begin}, {end}] are out of range of the {dataLen}-byte data section.");
        if (end - begin != count * elementSize)
            throw new ModelLoadException(Path, name, $"data_offsets cover {end - begin} bytes but shape [{string.Join(", ", shape)}] of {dtype} needs {count * elementSize}.");
        return new TensorInfo(name, Path, dtype, shape, (nint)(_base + dataStart + begin), begin, end);
    }

    private void CheckOverlaps()
    {
        var sorted = _tensors.Values.Where(t => t.End > t.Begin).OrderBy(t => t.Begin).ToArray();
        for (int i = 1; i < sorted.Length; i++)
            if (sorted[i].Begin < sorted[i - 1].End)
                throw new ModelLoadException(Path, sorted[i].Name, $"data [{sorted[i].Begin}, {sorted[i].End}) overlaps tensor '{sorted[i - 1].Name}' [{sorted[i - 1].Begin}, {sorted[i - 1].End}).");
    }

    private static int? ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => null,
    };

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
