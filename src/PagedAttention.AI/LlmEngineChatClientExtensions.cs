using Microsoft.Extensions.AI;
using PagedAttention.AI.Engine;

namespace PagedAttention.AI;

/// <summary>Creates <see cref="IChatClient"/>s over an <see cref="LlmEngine"/>.</summary>
public static class LlmEngineChatClientExtensions
{
    /// <summary>An <see cref="IChatClient"/> over <paramref name="engine"/>; disposing the client leaves the engine running.</summary>
    public static IChatClient AsChatClient(this LlmEngine engine, string? modelId = null) =>
        new PagedAttentionChatClient(engine, modelId);
}
