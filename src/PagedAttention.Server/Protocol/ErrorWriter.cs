using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace PagedAttention.Server.Protocol;

/// <summary>Writes OpenAI's error object, as a response or as one SSE event.</summary>
internal static class ErrorWriter
{
    public static byte[] Json(string message, string type, string? param, string? code)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteStartObject("error");
            w.WriteString("message", message);
            w.WriteString("type", type);
            if (param is null) w.WriteNull("param"); else w.WriteString("param", param);
            if (code is null) w.WriteNull("code"); else w.WriteString("code", code);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    public static byte[] Json(OpenAIException e) => Json(e.Message, e.Type, e.Param, e.Code);

    /// <summary>Writes <paramref name="e"/> as the response (status, Retry-After, JSON body) when nothing was sent yet.</summary>
    public static async Task WriteAsync(HttpContext http, OpenAIException e)
    {
        if (http.Response.HasStarted) return;
        http.Response.Clear();
        http.Response.StatusCode = e.Status;
        if (e.RetryAfter is { } after)
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        if (e.Status == 401) http.Response.Headers.WWWAuthenticate = "Bearer";
        http.Response.ContentType = "application/json";
        var body = Json(e);
        try { await http.Response.Body.WriteAsync(body, http.RequestAborted).ConfigureAwait(false); }
        catch (OperationCanceledException) { } // the client left
        catch (IOException) { }
    }

    public static OpenAIException ServerError(string message) => new(500, message, "server_error", null, "internal_error");

    public static OpenAIException Unavailable(string message, TimeSpan? retryAfter = null) => new(503, message, "server_error", null, "service_unavailable", retryAfter);
}
