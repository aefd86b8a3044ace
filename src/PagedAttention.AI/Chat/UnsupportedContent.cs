using Microsoft.Extensions.AI;

namespace PagedAttention.AI.Chat;

/// <summary>
/// Finds message contents a text-only chat template cannot show the model — images, audio and files
/// (<see cref="DataContent"/>, <see cref="UriContent"/>, <see cref="HostedFileContent"/>) — so that the client refuses
/// them by name instead of rendering the prompt without them. Text, tool calls and results, reasoning and usage are
/// what the context builder reads or may skip (reasoning and usage of earlier answers are not prompt text).
/// </summary>
internal static class UnsupportedContent
{
    /// <summary>Each unsupported content as "message N (role): Type (details)", in message order; empty when there is none.</summary>
    public static List<string> Find(IEnumerable<ChatMessage> messages)
    {
        var found = new List<string>();
        int index = 0;
        foreach (var m in messages)
        {
            if (m is not null)
                foreach (var c in m.Contents)
                    if (Describe(c) is { } what) found.Add($"message {index} ({m.Role.Value}): {what}");
            index++;
        }
        return found;
    }

    private static string? Describe(AIContent content) => content switch
    {
        DataContent d => $"DataContent ({d.MediaType})",
        UriContent u => $"UriContent ({u.MediaType}, {u.Uri})",
        HostedFileContent f => $"HostedFileContent (file {f.FileId})",
        _ => null,
    };
}
