namespace PagedAttention.AI.Models;

/// <summary>
/// A model directory could not be loaded: a missing or corrupt file, a tensor that is absent or malformed, or a
/// configuration this engine does not support. The message names the file, the tensor (when there is one) and the problem.
/// </summary>
public sealed class ModelLoadException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ModelLoadException(string message) : base(message) { }

    /// <summary>Creates the exception with the error that caused it.</summary>
    public ModelLoadException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception for a problem in <paramref name="file"/>, optionally about <paramref name="tensor"/>.</summary>
    public ModelLoadException(string file, string? tensor, string problem, Exception? innerException = null)
        : base(Format(file, tensor, problem), innerException)
    {
        FilePath = file;
        TensorName = tensor;
    }

    /// <summary>The file the problem was found in, when known.</summary>
    public string? FilePath { get; }

    /// <summary>The tensor the problem concerns, when there is one.</summary>
    public string? TensorName { get; }

    private static string Format(string file, string? tensor, string problem) =>
        tensor is null ? $"{file}: {problem}" : $"{file}: tensor '{tensor}': {problem}";
}
