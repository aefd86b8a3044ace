using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PagedAttention.AI;
using PagedAttention.AI.Engine;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a PagedAttention.AI engine and its <see cref="IChatClient"/> in a service collection.</summary>
public static class PagedAttentionServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="LlmEngine"/> as a singleton (loaded on first use, disposed with the container) and
    /// <see cref="IChatClient"/> as a <see cref="PagedAttentionChatClient"/> over it.
    /// </summary>
    public static IServiceCollection AddPagedAttention(this IServiceCollection services, Action<EngineOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<EngineOptions>().Configure(configure);
        return AddCore(services);
    }

    /// <summary>As <see cref="AddPagedAttention(IServiceCollection, Action{EngineOptions})"/>, binding EngineOptions from <paramref name="configuration"/> (e.g. a "PagedAttention" section).</summary>
    public static IServiceCollection AddPagedAttention(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<EngineOptions>().Bind(configuration);
        return AddCore(services);
    }

    /// <summary>
    /// Registers a keyed engine and keyed <see cref="IChatClient"/> under <paramref name="serviceKey"/>, for serving several
    /// models side by side; the key is also the options name and the model id.
    /// </summary>
    public static IServiceCollection AddKeyedPagedAttention(this IServiceCollection services, string serviceKey, Action<EngineOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(serviceKey);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<EngineOptions>(serviceKey).Configure(configure);
        services.AddKeyedSingleton(serviceKey, (sp, key) => Load(sp, sp.GetRequiredService<IOptionsMonitor<EngineOptions>>().Get((string)key!)));
        services.AddKeyedSingleton<IChatClient>(serviceKey, (sp, key) => new PagedAttentionChatClient(sp.GetRequiredKeyedService<LlmEngine>(key), (string)key!));
        return services;
    }

    private static IServiceCollection AddCore(IServiceCollection services)
    {
        services.TryAddSingleton(sp => Load(sp, sp.GetRequiredService<IOptions<EngineOptions>>().Value));
        services.TryAddSingleton<IChatClient>(sp => new PagedAttentionChatClient(sp.GetRequiredService<LlmEngine>()));
        return services;
    }

    private static LlmEngine Load(IServiceProvider sp, EngineOptions options)
    {
        // DI factories are synchronous; loading maps files and allocates the cache, no I/O waits on a sync context.
        options.Logger ??= sp.GetService<ILoggerFactory>()?.CreateLogger<LlmEngine>();
        return LlmEngine.LoadAsync(options).GetAwaiter().GetResult();
    }
}
