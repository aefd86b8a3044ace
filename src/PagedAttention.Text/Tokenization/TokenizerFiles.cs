namespace PagedAttention.Text.Tokenization;

/// <summary>
/// Reads tokenizer files defensively: follows symbolic links to the regular file they name (the Hugging Face cache
/// layout), refuses special files before opening them (devices and FIFOs report a length of 0: /dev/zero never ends, a
/// FIFO blocks) and files above a size cap, so that a bad directory costs neither unbounded memory nor a hang.
/// Failures are <see cref="TokenizerLoadException"/>s without a file; <see cref="Tokenizer.FromFile"/> adds it.
/// </summary>
internal static class TokenizerFiles
{
    /// <summary>Most bytes of a tokenizer.json (the largest real ones, e.g. Gemma 3's, are about 33 MiB).</summary>
    public const long MaxTokenizerJsonBytes = 128L << 20;

    /// <summary>Most bytes of a tokenizer_config.json.</summary>
    public const long MaxConfigBytes = 16L << 20;

    public static byte[] Read(string path, long maxBytes)
    {
        var info = new FileInfo(path);
        FileInfo file;
        try
        {
            file = info.LinkTarget is null ? info
                : info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? throw new TokenizerLoadException($"the symbolic link to '{info.LinkTarget}' does not lead to a file");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerLoadException($"cannot follow the symbolic link: {e.Message}", e);
        }
        if (!file.Exists) throw new TokenizerLoadException(ReferenceEquals(file, info) ? "file not found" : $"the symbolic link leads to '{file.FullName}', which does not exist");
        if (file.Length == 0) throw new TokenizerLoadException("the file is empty or not a regular file");
        if (file.Length > maxBytes) throw new TokenizerLoadException($"the file holds {file.Length} bytes, more than the {maxBytes >> 20} MiB limit for it");
        try
        {
            using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            var bytes = new byte[file.Length];
            int n = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            return n == bytes.Length ? bytes : bytes[..n];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerLoadException($"cannot read the file: {e.Message}", e);
        }
    }
}
