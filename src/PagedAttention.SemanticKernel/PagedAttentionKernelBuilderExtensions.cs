using Microsoft.Extensions.DependencyInjection;
using PagedAttention.AI.Engine;

namespace Microsoft.SemanticKernel;

/// <summary>
/// Adds a PagedAttention.AI engine to a Semantic Kernel <see cref="IKernelBuilder"/> as both an
/// <see cref="Microsoft.Extensions.AI.IChatClient"/> and an <see cref="ChatCompletion.IChatCompletionService"/>, so that
/// prompt functions, <c>FunctionChoiceBehavior</c> and code that calls
/// <c>kernel.GetRequiredService&lt;IChatCompletionService&gt;()</c> all reach the one engine.
/// </summary>
/// <remarks>
/// The extension methods live in SK's own namespace, as SK's connectors put theirs, so that they show up next to
/// <c>AddOpenAIChatCompletion</c> without another <c>using</c>.
/// </remarks>
public static class PagedAttentionKernelBuilderExtensions
{
    /// <summary>Registers an already loaded <paramref name="engine"/>; the caller keeps ownership and disposes it.</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="engine">The loaded engine; every chat history the kernel runs becomes a request of this engine.</param>
    /// <param name="serviceId">SK's service id (the DI key); <c>null</c> registers the default services.</param>
    /// <param name="modelId">The model id reported to SK; defaults to the model directory's name.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static IKernelBuilder AddPagedAttentionChatCompletion(this IKernelBuilder builder, LlmEngine engine, string? serviceId = null, string? modelId = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddPagedAttentionChatCompletion(engine, serviceId, modelId);
        return builder;
    }

    /// <summary>
    /// Registers an engine that is loaded from <paramref name="configure"/>'s options on first use and disposed with the
    /// kernel's service provider (as <c>AddPagedAttention</c> does).
    /// </summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="configure">Sets the engine options (model path, device, cache size, ...).</param>
    /// <param name="serviceId">SK's service id (the DI key, options name and model id); <c>null</c> registers the default services.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static IKernelBuilder AddPagedAttentionChatCompletion(this IKernelBuilder builder, Action<EngineOptions> configure, string? serviceId = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddPagedAttentionChatCompletion(configure, serviceId);
        return builder;
    }
}
