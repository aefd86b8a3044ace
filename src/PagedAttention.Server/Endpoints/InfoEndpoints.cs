using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using PagedAttention.Server.Hosting;
using PagedAttention.Server.Protocol;

namespace PagedAttention.Server.Endpoints;

/// <summary><c>GET /v1/models</c>, <c>GET /v1/models/{id}</c> and <c>GET /health</c>.</summary>
internal static class InfoEndpoints
{
    private static readonly long Started = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static async Task ModelsAsync(HttpContext http)
    {
        var ctx = http.RequestServices.GetRequiredService<ServerContext>();
        try
        {
            var (_, state) = ctx.Admit(http);
            await WriteJsonAsync(http, w =>
            {
                w.WriteStartObject();
                w.WriteString("object", "list");
                w.WriteStartArray("data");
                Model(w, state);
                w.WriteEndArray();
                w.WriteEndObject();
            }).ConfigureAwait(false);
        }
        catch (OpenAIException e) { await ErrorWriter.WriteAsync(http, e).ConfigureAwait(false); }
    }

    public static async Task ModelAsync(HttpContext http, string id)
    {
        var ctx = http.RequestServices.GetRequiredService<ServerContext>();
        try
        {
            var (_, state) = ctx.Admit(http);
            ServerContext.CheckModel(id, state);
            await WriteJsonAsync(http, w => Model(w, state)).ConfigureAwait(false);
        }
        catch (OpenAIException e) { await ErrorWriter.WriteAsync(http, e).ConfigureAwait(false); }
    }

    /// <summary>200 while the engine serves; 503 with the reason once its load or its step loop failed. No key needed (load balancers probe it).</summary>
    public static async Task HealthAsync(HttpContext http)
    {
        var ctx = http.RequestServices.GetRequiredService<ServerContext>();
        string? problem = ctx.Model.Unhealthy();
        http.Response.StatusCode = problem is null ? 200 : 503;
        await WriteJsonAsync(http, w =>
        {
            w.WriteStartObject();
            w.WriteString("status", problem is null ? "ok" : "unhealthy");
            if (problem is not null) w.WriteString("reason", problem);
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }

    private static void Model(Utf8JsonWriter w, ServedModel.State state)
    {
        w.WriteStartObject();
        w.WriteString("id", state.ModelId);
        w.WriteString("object", "model");
        w.WriteNumber("created", Started);
        w.WriteString("owned_by", "pagedattention");
        w.WriteNumber("max_model_len", state.Engine.MaxModelLen);
        w.WriteEndObject();
    }

    private static async Task WriteJsonAsync(HttpContext http, Action<Utf8JsonWriter> write)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) write(w);
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(ms.ToArray(), http.RequestAborted).ConfigureAwait(false);
    }
}
