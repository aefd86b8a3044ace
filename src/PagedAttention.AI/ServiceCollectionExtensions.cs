using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PagedAttention.AI;
using PagedAttention.AI.Engine;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a PagedAttention.AI engine and its <see cref="IChatClient"/> in a service collection.</summary>
public static class PagedAttentionServiceCollectionExtensions
{
    /// <summary>The name of the health check <see cref="AddPagedAttention(IServiceCollection, Action{EngineOptions})"/> registers; keyed engines add "-" and their key.</summary>
    public const string HealthCheckName = "pagedattention";

    /// <summary>
    /// Registers <see cref="LlmEngine"/> as a singleton (disposed with the container) and <see cref="IChatClient"/> as
    /// a <see cref="PagedAttentionChatClient"/> over it. In a host, the engine loads while the host starts (a hosted
    /// service; <see cref="EngineOptions.LoadOnStart"/> = false loads on first use instead), the options are validated
    /// at start (a wrong <see cref="EngineOptions.ModelPath"/> fails the start with the paths tried), and a health
    /// check named <see cref="HealthCheckName"/> reports Unhealthy when the load failed or the engine died.
    /// A failed load is not retried: every resolution rethrows its exception.
    /// </summary>
    public static IServiceCollection AddPagedAttention(this IServiceCollection services, Action<EngineOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return AddCore(services, services.AddOptions<EngineOptions>().Configure(configure));
    }

    /// <summary>As <see cref="AddPagedAttention(IServiceCollection, Action{EngineOptions})"/>, binding EngineOptions from <paramref name="configuration"/> (e.g. a "PagedAttention" section).</summary>
    public static IServiceCollection AddPagedAttention(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        return AddCore(services, services.AddOptions<EngineOptions>().Bind(configuration));
    }

    /// <summary>
    /// Registers a keyed engine and keyed <see cref="IChatClient"/> under <paramref name="serviceKey"/>, for serving several
    /// models side by side; the key is also the options name and the model id. Loading, validation and the health check
    /// (named <see cref="HealthCheckName"/>-key) work as for the unkeyed registration.
    /// </summary>
    public static IServiceCollection AddKeyedPagedAttention(this IServiceCollection services, string serviceKey, Action<EngineOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(serviceKey);
        ArgumentNullException.ThrowIfNull(configure);
        var builder = services.AddOptions<EngineOptions>(serviceKey).Configure(configure);
        if (services.Any(d => d.IsKeyedService && Equals(d.ServiceKey, serviceKey) && d.ServiceType == typeof(EngineHost))) return services;
        AddShared(services, builder);
        services.AddKeyedSingleton(serviceKey, (sp, key) => new EngineHost((string)key!, () => Monitor(sp).Get((string)key!), sp.GetService<ILoggerFactory>()));
        services.AddKeyedSingleton(serviceKey, (sp, key) => sp.GetRequiredKeyedService<EngineHost>(key).GetEngine());
        services.AddKeyedSingleton<IChatClient>(serviceKey, (sp, key) => new PagedAttentionChatClient(sp.GetRequiredKeyedService<LlmEngine>(key), (string)key!));
        services.AddSingleton<IHostedService>(sp => new EngineStartupService(sp.GetRequiredKeyedService<EngineHost>(serviceKey), () => Monitor(sp).Get(serviceKey).LoadOnStart));
        services.AddHealthChecks().Add(new HealthCheckRegistration($"{HealthCheckName}-{serviceKey}",
            sp => new EngineHealthCheck(sp.GetRequiredKeyedService<EngineHost>(serviceKey)), failureStatus: null, tags: [HealthCheckName]));
        return services;
    }

    private static IServiceCollection AddCore(IServiceCollection services, OptionsBuilder<EngineOptions> builder)
    {
        // A second AddPagedAttention only adds its configuration: one engine, one hosted service, one health check.
        if (services.Any(d => !d.IsKeyedService && d.ServiceType == typeof(EngineHost))) return services;
        AddShared(services, builder);
        services.AddSingleton(sp => new EngineHost("", () => sp.GetRequiredService<IOptions<EngineOptions>>().Value, sp.GetService<ILoggerFactory>()));
        services.TryAddSingleton(sp => sp.GetRequiredService<EngineHost>().GetEngine());
        services.TryAddSingleton<IChatClient>(sp => new PagedAttentionChatClient(sp.GetRequiredService<LlmEngine>()));
        services.AddSingleton<IHostedService>(sp => new EngineStartupService(sp.GetRequiredService<EngineHost>(), () => sp.GetRequiredService<IOptions<EngineOptions>>().Value.LoadOnStart));
        services.AddHealthChecks().Add(new HealthCheckRegistration(HealthCheckName,
            sp => new EngineHealthCheck(sp.GetRequiredService<EngineHost>()), failureStatus: null, tags: [HealthCheckName]));
        return services;
    }

    private static void AddShared(IServiceCollection services, OptionsBuilder<EngineOptions> builder)
    {
        builder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EngineOptions>, EngineOptionsValidator>());
    }

    private static IOptionsMonitor<EngineOptions> Monitor(IServiceProvider sp) => sp.GetRequiredService<IOptionsMonitor<EngineOptions>>();
}
