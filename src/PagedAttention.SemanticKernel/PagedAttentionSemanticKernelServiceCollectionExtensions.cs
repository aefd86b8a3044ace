using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel.ChatCompletion;
using PagedAttention.AI;
using PagedAttention.AI.Engine;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers a PagedAttention.AI engine for Semantic Kernel in a service collection: an <see cref="IChatClient"/> and an
/// <see cref="IChatCompletionService"/> over the same client, so both SK code paths batch on one engine and share its
/// prefix cache.
/// </summary>
public static class PagedAttentionSemanticKernelServiceCollectionExtensions
{
    /// <summary>Registers an already loaded <paramref name="engine"/>; the caller keeps ownership and disposes it.</summary>
    /// <param name="services">The service collection (for a kernel, <c>IKernelBuilder.Services</c>).</param>
    /// <param name="engine">The loaded engine.</param>
    /// <param name="serviceId">SK's service id (the DI key); <c>null</c> registers the default services.</param>
    /// <param name="modelId">The model id reported to SK; defaults to the model directory's name.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddPagedAttentionChatCompletion(this IServiceCollection services, LlmEngine engine, string? serviceId = null, string? modelId = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(engine);
        // One client per registration: the client holds the parsed chat template, and the completion service wraps it.
        // ownsEngine: false, because the caller loaded the engine and disposes it.
        services.AddKeyedSingleton<IChatClient>(serviceId, (_, _) => new PagedAttentionChatClient(engine, modelId));
        return AddCompletionService(services, serviceId);
    }

    /// <summary>
    /// Registers an engine loaded from <paramref name="configure"/>'s options on first use (through <c>AddPagedAttention</c>,
    /// or <c>AddKeyedPagedAttention</c> when <paramref name="serviceId"/> is given) and disposed with the container.
    /// </summary>
    /// <param name="services">The service collection (for a kernel, <c>IKernelBuilder.Services</c>).</param>
    /// <param name="configure">Sets the engine options.</param>
    /// <param name="serviceId">SK's service id (the DI key, options name and model id); <c>null</c> registers the default services.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddPagedAttentionChatCompletion(this IServiceCollection services, Action<EngineOptions> configure, string? serviceId = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        if (serviceId is null) services.AddPagedAttention(configure);
        else services.AddKeyedPagedAttention(serviceId, configure);
        return AddCompletionService(services, serviceId);
    }

    private static IServiceCollection AddCompletionService(IServiceCollection services, string? serviceId)
    {
        // A null key registers an ordinary (unkeyed) service, which is what SK resolves when no service id is asked for.
        // SK's own adapter converts histories and settings, and puts the response's UsageDetails (cached tokens
        // included) under "Usage" in the message metadata, which prompt functions copy to FunctionResult.Metadata;
        // with an IChatClient alone, SK 1.82's prompt functions report no usage. The client is wrapped in SK's kernel
        // function invocation (as SK's own IChatClient-based connectors do), so FunctionChoiceBehavior.Auto() and
        // Required() invoke the kernel's functions instead of returning the calls unexecuted.
        services.AddKeyedSingleton<IChatCompletionService>(serviceId, (sp, key) =>
            Microsoft.SemanticKernel.KernelFunctionInvokingChatClientBuilderExtensions.UseKernelFunctionInvocation(
                    new ChatClientBuilder(sp.GetRequiredKeyedService<IChatClient>(key)), sp.GetService<Microsoft.Extensions.Logging.ILoggerFactory>())
                .Build(sp)
                .AsChatCompletionService(sp));
        return services;
    }
}
