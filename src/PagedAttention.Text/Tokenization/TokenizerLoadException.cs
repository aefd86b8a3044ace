namespace PagedAttention.Text.Tokenization;

/// <summary>
/// Thrown when a <c>tokenizer.json</c> (or its <c>tokenizer_config.json</c>) cannot be read.
/// The message names the JSON path of the component that failed, e.g.
/// <c>pre_tokenizer.pretokenizers[1]: unknown type 'Foo'</c>.
/// </summary>
public sealed class TokenizerLoadException : Exception
{
    /// <summary>Creates the exception with a message naming the failing component.</summary>
    public TokenizerLoadException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public TokenizerLoadException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception with a generic message.</summary>
    public TokenizerLoadException() : base("The tokenizer could not be loaded.") { }
}
