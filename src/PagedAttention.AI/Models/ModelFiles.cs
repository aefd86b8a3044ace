using System.Buffers;
using System.Text;
using System.Text.Json;

namespace PagedAttention.AI.Models;

/// <summary>
/// Opens the files of a model directory defensively: symbolic links are followed to the regular file they name (the
/// Hugging Face cache links snapshots/&lt;rev&gt;/x to ../../blobs/&lt;hash&gt;), special files are refused before they
/// are opened, and small JSON files are read with a size cap. Every failure is a <see cref="ModelLoadException"/>
/// naming the path the caller asked for.
/// </summary>
internal static class ModelFiles
{
    /// <summary>Most bytes of config.json, generation_config.json or model.safetensors.index.json.</summary>
    public const long MaxJsonBytes = 16L << 20;

    /// <summary>The regular file <paramref name="path"/> names, following symbolic links (loops and dangling links fail).</summary>
    public static FileInfo Resolve(string path)
    {
        var info = new FileInfo(path);
        FileInfo file;
        try
        {
            if (info.LinkTarget is null) file = info;
            else if (info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target) file = target;
            else throw new ModelLoadException(path, null, $"the symbolic link to '{info.LinkTarget}' does not lead to a file.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // ELOOP ("too many levels of symbolic links") and unreadable links land here.
            throw new ModelLoadException(path, null, $"cannot follow the symbolic link: {e.Message}", e);
        }
        if (!file.Exists)
            throw new ModelLoadException(path, null, ReferenceEquals(file, info) ? "file not found." : $"the symbolic link leads to '{file.FullName}', which does not exist.");
        // Devices (/dev/zero), FIFOs and /proc files report a length of 0: refuse them before opening, where a FIFO
        // would block and /dev/zero never end. A regular file of 0 bytes is no valid model file either.
        if (file.Length == 0)
            throw new ModelLoadException(path, null, ReferenceEquals(file, info)
                ? "the file is empty or not a regular file."
                : $"the symbolic link leads to '{file.FullName}', which is empty or not a regular file.");
        return file;
    }

    /// <summary>The bytes of a small file, refused above <paramref name="maxBytes"/> before anything is read.</summary>
    public static byte[] ReadSmall(string path, long maxBytes = MaxJsonBytes)
    {
        var file = Resolve(path);
        if (file.Length > maxBytes)
            throw new ModelLoadException(path, null, $"the file holds {file.Length} bytes, more than the {maxBytes >> 20} MiB limit for it.");
        try
        {
            using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            var bytes = new byte[file.Length];
            int n = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            return n == bytes.Length ? bytes : bytes[..n];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(path, null, $"cannot read the file: {e.Message}", e);
        }
    }

    /// <summary>A small JSON file parsed, after its size cap and a UTF-8 check (property names are decoded lazily, so invalid UTF-8 would surface later as InvalidOperationException).</summary>
    public static JsonDocument ParseJson(string path, long maxBytes = MaxJsonBytes)
    {
        ReadOnlyMemory<byte> bytes = ReadSmall(path, maxBytes);
        if (bytes.Span.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        CheckUtf8(path, null, bytes.Span);
        try { return JsonDocument.Parse(bytes); }
        catch (JsonException e) { throw new ModelLoadException(path, null, $"malformed JSON: {e.Message}", e); }
    }

    /// <summary>Throws when <paramref name="text"/> is not valid UTF-8, naming the offset of the first bad byte.</summary>
    public static void CheckUtf8(string path, string? tensor, ReadOnlySpan<byte> text)
    {
        if (System.Text.Unicode.Utf8.IsValid(text)) return;
        int at = 0;
        while (at < text.Length && Rune.DecodeFromUtf8(text[at..], out _, out int used) == OperationStatus.Done) at += used;
        throw new ModelLoadException(path, tensor, $"not valid UTF-8 (bad byte 0x{text[at]:X2} at offset {at}).");
    }
}
