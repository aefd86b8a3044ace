using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace PagedAttention.Server.Protocol;

/// <summary>
/// Reads a request body as one JSON object within the server's limits: the content type must be JSON (415), the body
/// at most <c>MaxRequestBodyBytes</c> (413, checked against Content-Length first and while reading), non-empty, valid
/// UTF-8 JSON nested at most <see cref="MaxDepth"/> deep, an object at the root (400).
/// </summary>
internal static class JsonBody
{
    /// <summary>Deepest nesting accepted (tool schemas are the deepest thing a request legitimately holds).</summary>
    public const int MaxDepth = 64;

    public static async Task<JsonDocument> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (!IsJson(request.ContentType))
            throw new OpenAIException(415, $"Content-Type must be application/json, got '{request.ContentType ?? "(none)"}'.", "invalid_request_error", null, "unsupported_media_type");
        if (request.ContentLength > maxBytes) throw TooLarge(maxBytes);
        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is > 0 and var n && n <= maxBytes ? (int)n : 4096);
        try
        {
            while (true)
            {
                var span = buffer.GetMemory(8192);
                int read = await request.Body.ReadAsync(span, cancellationToken).ConfigureAwait(false);
                if (read == 0) break;
                buffer.Advance(read);
                if (buffer.WrittenCount > maxBytes) throw TooLarge(maxBytes);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge) { throw TooLarge(maxBytes); }
        if (buffer.WrittenCount == 0) throw OpenAIException.BadRequest("The request body is empty; send a JSON object.", code: "invalid_json");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(buffer.WrittenMemory, new JsonDocumentOptions { MaxDepth = MaxDepth }); }
        catch (JsonException e) { throw OpenAIException.BadRequest($"The request body is not valid JSON: {e.Message}", code: "invalid_json"); }
        var kind = doc.RootElement.ValueKind;
        if (kind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw OpenAIException.BadRequest($"The request body must be a JSON object, got {kind}.", code: "invalid_json");
        }
        return doc;
    }

    private static OpenAIException TooLarge(long maxBytes) =>
        new(413, $"The request body exceeds the limit of {maxBytes} bytes.", "invalid_request_error", null, "request_too_large");

    private static bool IsJson(string? contentType)
    {
        if (contentType is null || !MediaTypeHeaderValue.TryParse(contentType, out var media)) return false;
        var type = media.MediaType.Value;
        return string.Equals(type, "application/json", StringComparison.OrdinalIgnoreCase)
            || (type is not null && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }
}
