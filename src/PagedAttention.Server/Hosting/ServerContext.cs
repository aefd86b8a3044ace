using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PagedAttention.AI.Engine;
using PagedAttention.Server.Protocol;
using PagedAttention.Server.Tenancy;
using PagedAttention.Text.Templates;

namespace PagedAttention.Server.Hosting;

/// <summary>What every endpoint uses: options, tenants, the rate limiter, the served model, the log.</summary>
internal sealed class ServerContext(IOptions<OpenAIServerOptions> options, TenantResolver tenants, TenantRateLimiter limiter, ServedModel model, ServerStats stats, ILogger<ServerContext> logger)
{
    public OpenAIServerOptions Options { get; } = options.Value;
    public TenantResolver Tenants { get; } = tenants;
    public TenantRateLimiter Limiter { get; } = limiter;
    public ServedModel Model { get; } = model;
    public ILogger Logger { get; } = logger;
    public ServerStats Stats { get; } = stats;

    /// <summary>Authentication (401), rate limit (429), the model (503 when it did not load).</summary>
    public (Tenant Tenant, ServedModel.State State) Admit(HttpContext http)
    {
        var tenant = Tenants.Resolve(http);
        Limiter.Acquire(tenant);
        var state = Model.Get();
        if (state.Engine.LoopFailure is not null || state.Engine.IsDisposed)
            throw ErrorWriter.Unavailable("The engine has stopped (see /health); this server cannot run requests.");
        if (Model.RecentFault(state.Engine) is { } fault) throw ErrorWriter.Unavailable(fault, Model.FaultRetryAfter(state.Engine));
        // The body limit of these endpoints, whatever the host's server-wide limit is (Kestrel's default is 30 MB).
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = Options.MaxRequestBodyBytes;
        return (tenant, state);
    }

    /// <summary>404 unless <paramref name="model"/> is the served model id.</summary>
    public static void CheckModel(string model, ServedModel.State state)
    {
        if (!string.Equals(model, state.ModelId, StringComparison.Ordinal))
            throw new OpenAIException(404, $"The model '{model}' does not exist; this server serves '{state.ModelId}'.", "invalid_request_error", "model", "model_not_found");
    }

    /// <summary>vLLM's context check: the prompt, and the prompt with max_tokens, must fit the model's context.</summary>
    public static void CheckContext(int promptTokens, int? maxTokens, LlmEngine engine, string param)
    {
        int max = engine.MaxModelLen;
        if (promptTokens >= max)
            throw new OpenAIException(400, $"This model's maximum context length is {max} tokens, the request has {promptTokens} tokens in the prompt (at least one must be left to generate).", "invalid_request_error", param, "context_length_exceeded");
        if (maxTokens is { } m && (long)promptTokens + m > max)
            throw new OpenAIException(400, $"This model's maximum context length is {max} tokens, the request has {(long)promptTokens + m} tokens ({promptTokens} in the prompt, {m} in the completion). Reduce the prompt or max_tokens.", "invalid_request_error", param, "context_length_exceeded");
    }

    /// <summary>Maps what the library throws for a bad request to 400; other exceptions are not the client's fault.</summary>
    public static OpenAIException? ClientError(Exception e) => e switch
    {
        OpenAIException o => o,
        ArgumentException or NotSupportedException or TemplateException or FormatException => OpenAIException.BadRequest(e.Message, (e as ArgumentException)?.ParamName is { } p ? Snake(p) : null),
        InvalidOperationException when e.Message.StartsWith("ChatOptions.AdditionalProperties", StringComparison.Ordinal) => OpenAIException.BadRequest(e.Message),
        _ => null,
    };

    /// <summary>What an engine failure becomes: 503 when the engine is gone, else 500 (logged).</summary>
    public OpenAIException ServerFault(Exception e)
    {
        if (e is ObjectDisposedException) return ErrorWriter.Unavailable("The engine is shutting down.");
        Logger.LogError(e, "PagedAttention.Server: request failed in the engine");
        return ErrorWriter.ServerError($"The engine failed while running the request: {e.Message}");
    }

    private static string Snake(string name) => string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));
}
