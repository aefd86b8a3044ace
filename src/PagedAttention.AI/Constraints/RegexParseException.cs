namespace PagedAttention.AI.Constraints;

/// <summary>A pattern outside the supported regex subset (or malformed); the message names the pattern and position.</summary>
internal sealed class RegexParseException(string message) : ArgumentException(message);
