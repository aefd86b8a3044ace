using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using PagedAttention.AI.Observability;
using PagedAttention.Server;
using PagedAttention.Server.Hosting;
using PagedAttention.Server.Tenancy;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the OpenAI server's services next to <c>AddPagedAttention</c>.</summary>
public static class OpenAIServerServiceCollectionExtensions
{
    /// <summary>
    /// Registers what <c>MapOpenAIEndpoints</c> needs: options (validated at start), tenants from the API keys, the
    /// per-tenant rate limiter, the admission gate, and OpenTelemetry metrics (the library's meter
    /// <see cref="PagedAttentionTelemetry.MeterName"/>) with the Prometheus exporter behind <c>/metrics</c>. The engine
    /// itself comes from <c>AddPagedAttention</c> (or any <c>LlmEngine</c> singleton).
    /// </summary>
    public static IServiceCollection AddOpenAIServer(this IServiceCollection services, Action<OpenAIServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = services.AddOptions<OpenAIServerOptions>();
        if (configure is not null) builder.Configure(configure);
        return AddCore(services, builder);
    }

    /// <summary>As <see cref="AddOpenAIServer(IServiceCollection, Action{OpenAIServerOptions})"/>, binding the options from <paramref name="configuration"/> (the "Server" section).</summary>
    public static IServiceCollection AddOpenAIServer(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        return AddCore(services, services.AddOptions<OpenAIServerOptions>().Bind(configuration));
    }

    private static IServiceCollection AddCore(IServiceCollection services, OptionsBuilder<OpenAIServerOptions> builder)
    {
        builder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OpenAIServerOptions>, ServerOptionsValidator>());
        if (services.Any(d => d.ServiceType == typeof(ServerContext))) return services;
        services.TryAddSingleton(sp => new TenantResolver(sp.GetRequiredService<IOptions<OpenAIServerOptions>>().Value));
        services.TryAddSingleton<TenantRateLimiter>();
        services.TryAddSingleton<ServedModel>();
        services.TryAddSingleton<ServerStats>();
        services.TryAddSingleton<ServerContext>();
        services.AddSingleton<IHostedService, ServerStartupLog>();
        services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(PagedAttentionTelemetry.MeterName, ServerStats.MeterName).AddPrometheusExporter());
        return services;
    }
}
