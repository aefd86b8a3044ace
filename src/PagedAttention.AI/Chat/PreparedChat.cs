using Microsoft.Extensions.AI;
using PagedAttention.AI.Sampling;

namespace PagedAttention.AI.Chat;

/// <summary>A chat request ready for the engine (<see cref="PagedAttentionChatClient.Prepare"/>).</summary>
/// <param name="Prompt">The rendered prompt.</param>
/// <param name="PromptIds">Its token ids.</param>
/// <param name="Sampling">The mapped sampling parameters, with the structured-output constraint.</param>
/// <param name="Detokenizer">The detokenizer that keeps the tool-call and reasoning markers.</param>
/// <param name="Notes">Response notes (<see cref="PagedAttentionChatClient.ToolsNotRenderedKey"/>, <see cref="PagedAttentionChatClient.ContentIgnoredKey"/>).</param>
/// <param name="ToolsOffered">Whether tools were offered (the output goes through a tool-call parser).</param>
/// <param name="StartsInReasoning">Whether the prompt ends inside a reasoning block.</param>
internal sealed record PreparedChat(string Prompt, int[] PromptIds, SamplingParams Sampling, Func<IStreamingDetokenizer> Detokenizer,
    AdditionalPropertiesDictionary Notes, bool ToolsOffered, bool StartsInReasoning);
