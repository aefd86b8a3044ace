using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace PagedAttention.Server.Protocol;

/// <summary>
/// Server-sent events as OpenAI frames them: <c>data: {json}\n\n</c> per chunk, each flushed at once (no response
/// buffering), ending with <c>data: [DONE]\n\n</c>. One JSON writer and buffer per stream, reused for every event.
/// </summary>
internal sealed class SseWriter
{
    private static readonly byte[] Prefix = "data: "u8.ToArray();
    private static readonly byte[] Suffix = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();
    private readonly HttpResponse _response;
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _json;

    public SseWriter(HttpResponse response)
    {
        _response = response;
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    public bool Started => _response.HasStarted;

    /// <summary>Sends the headers: 200, text/event-stream, no caching or proxy buffering.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _response.StatusCode = 200;
        _response.ContentType = "text/event-stream; charset=utf-8";
        _response.Headers.CacheControl = "no-cache";
        _response.Headers["X-Accel-Buffering"] = "no";
        _response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await _response.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The writer for the next event's JSON; call <see cref="SendAsync"/> after writing one value.</summary>
    public Utf8JsonWriter Begin()
    {
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        return _json;
    }

    public async Task SendAsync(CancellationToken cancellationToken)
    {
        _json.Flush();
        await SendBufferAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task SendBufferAsync(CancellationToken cancellationToken)
    {
        var body = _response.BodyWriter;
        body.Write(Prefix);
        body.Write(_buffer.WrittenSpan);
        body.Write(Suffix);
        await body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task DoneAsync(CancellationToken cancellationToken)
    {
        _response.BodyWriter.Write(Done);
        await _response.BodyWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An error after the stream began: one error event, then [DONE].</summary>
    public async Task ErrorAsync(OpenAIException e, CancellationToken cancellationToken)
    {
        _buffer.ResetWrittenCount();
        _buffer.Write(ErrorWriter.Json(e));
        await SendBufferAsync(cancellationToken).ConfigureAwait(false);
        await DoneAsync(cancellationToken).ConfigureAwait(false);
    }
}
