namespace PagedAttention.Text.Tokenization;

/// <summary>
/// Thrown when a <c>tokenizer.json</c> (or its <c>tokenizer_config.json</c>) cannot be read.
/// The message names the JSON path of the component that failed, e.g.
/// <c>pre_tokenizer.pretokenizers[1]: unknown type 'Foo'</c>, preceded by the file when the tokenizer was loaded
/// from one (<see cref="Tokenizer.FromFile"/>).
/// </summary>
public sealed class TokenizerLoadException : Exception
{
    /// <summary>Creates the exception with a message naming the failing component.</summary>
    public TokenizerLoadException(string message) : base(message) => Problem = message;

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public TokenizerLoadException(string message, Exception innerException) : base(message, innerException) => Problem = message;

    /// <summary>Creates the exception with a generic message.</summary>
    public TokenizerLoadException() : this("The tokenizer could not be loaded.") { }

    /// <summary>Creates the exception for a problem in <paramref name="filePath"/>; the message is "file: problem".</summary>
    public TokenizerLoadException(string problem, string? filePath, Exception? innerException)
        : base(filePath is null ? problem : $"{filePath}: {problem}", innerException)
    {
        Problem = problem;
        FilePath = filePath;
    }

    /// <summary>The file the problem was found in (tokenizer.json or tokenizer_config.json), when loaded from a file.</summary>
    public string? FilePath { get; }

    /// <summary>The message without the file: the JSON path and the problem.</summary>
    internal string Problem { get; }
}
