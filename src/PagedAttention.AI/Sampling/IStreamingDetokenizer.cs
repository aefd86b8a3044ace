namespace PagedAttention.AI.Sampling;

/// <summary>
/// Turns one sequence's generated tokens into text incrementally. The engine creates one per sequence (through
/// <c>EngineOptions.DetokenizerFactory</c>) and calls it on its step-loop thread only, so it needs no locking.
/// </summary>
public interface IStreamingDetokenizer
{
    /// <summary>
    /// Adds a generated token and returns the text it completes; may be empty, e.g. while a multi-byte UTF-8
    /// character is split across tokens.
    /// </summary>
    string Append(int tokenId);

    /// <summary>Returns any text still held back (e.g. an incomplete character) at the end of the sequence.</summary>
    string Flush();
}
