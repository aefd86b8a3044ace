namespace PagedAttention.Server.Protocol;

/// <summary>
/// A request the server refuses, with its HTTP status and the fields of OpenAI's error object
/// (<c>{"error": {"message", "type", "param", "code"}}</c>). Thrown by parsing and admission, caught by the endpoints.
/// </summary>
internal sealed class OpenAIException(int status, string message, string type, string? param = null, string? code = null, TimeSpan? retryAfter = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    /// <summary>Sent as a Retry-After header (429, 503).</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;

    public static OpenAIException BadRequest(string message, string? param = null, string? code = null) =>
        new(400, message, "invalid_request_error", param, code);

    public static OpenAIException Invalid(string param, string message) => new(400, message, "invalid_request_error", param, "invalid_value");
}
