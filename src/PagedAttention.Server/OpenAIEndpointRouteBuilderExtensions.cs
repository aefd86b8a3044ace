using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using PagedAttention.Server.Endpoints;
using PagedAttention.Server.Protocol;
using PagedAttention.Server.Tenancy;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the OpenAI-compatible endpoints onto any ASP.NET Core app (after <c>AddPagedAttention</c> and <c>AddOpenAIServer</c>).</summary>
public static class OpenAIEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>POST /v1/chat/completions</c>, <c>POST /v1/completions</c>, <c>GET /v1/models</c>,
    /// <c>GET /v1/models/{id}</c>, <c>GET /health</c> and <c>GET /metrics</c> (Prometheus) under <paramref name="prefix"/>
    /// (default: the root). Authentication, rate limits and admission happen inside the endpoints, so no middleware
    /// order matters; docs/server.md describes each endpoint.
    /// </summary>
    public static IEndpointRouteBuilder MapOpenAIEndpoints(this IEndpointRouteBuilder endpoints, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        var group = endpoints.MapGroup(prefix);
        group.MapPost("/v1/chat/completions", ChatCompletionsEndpoint.HandleAsync);
        group.MapPost("/v1/completions", CompletionsEndpoint.HandleAsync);
        group.MapGet("/v1/models", InfoEndpoints.ModelsAsync);
        group.MapGet("/v1/models/{id}", (HttpContext http, string id) => InfoEndpoints.ModelAsync(http, id));
        group.MapGet("/health", InfoEndpoints.HealthAsync);
        endpoints.MapPrometheusScrapingEndpoint(prefix.TrimEnd('/') + "/metrics", meterProvider: null, configureBranchedPipeline: app => app.Use(async (http, next) =>
        {
            if (http.RequestServices.GetRequiredService<TenantResolver>().MayReadMetrics(http)) { await next(http).ConfigureAwait(false); return; }
            await ErrorWriter.WriteAsync(http, new OpenAIException(401, "/metrics needs Server:MetricsApiKey as 'Authorization: Bearer KEY'.", "invalid_request_error", null, "invalid_api_key")).ConfigureAwait(false);
        }), optionsName: null);
        return endpoints;
    }
}
