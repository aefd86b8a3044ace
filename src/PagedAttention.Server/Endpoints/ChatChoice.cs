using System.Text;
using Microsoft.Extensions.AI;
using PagedAttention.AI.Chat;
using PagedAttention.AI.Engine;
using EngineFinish = PagedAttention.AI.Requests.FinishReason;

namespace PagedAttention.Server.Endpoints;

/// <summary>
/// One choice (one of the request's n sequences) as its tokens arrive: the chat client's reasoning splitter and
/// tool-call stream, the text to show now, the logprobs not sent yet, and at the end the tool calls and finish reason.
/// </summary>
internal sealed class ChatChoice(int index, bool startsInReasoning, bool toolsOffered)
{
    private readonly ReasoningSplitter _splitter = new(startsInReasoning);
    private readonly ToolCallStream? _tools = toolsOffered ? new ToolCallStream() : null;
    private readonly List<(bool Reasoning, string Text)> _pieces = [];

    public int Index { get; } = index;
    public int Tokens { get; private set; }
    public int CachedTokens { get; private set; }
    public bool Finished { get; private set; }
    public EngineFinish? EngineFinish { get; private set; }
    public List<FunctionCallContent> Calls { get; private set; } = [];

    /// <summary>Answer text released by the last <see cref="Push"/>.</summary>
    public StringBuilder Content { get; } = new();

    /// <summary>Reasoning text released by the last <see cref="Push"/>.</summary>
    public StringBuilder Reasoning { get; } = new();

    /// <summary>Tokens whose logprobs were not sent yet.</summary>
    public List<GenerationOutput> PendingLogprobs { get; } = [];

    /// <summary>Feeds one token; afterwards <see cref="Content"/> / <see cref="Reasoning"/> hold what may be shown now.</summary>
    public void Push(GenerationOutput o, bool logprobs)
    {
        Tokens++;
        CachedTokens = o.CachedTokens;
        if (logprobs) PendingLogprobs.Add(o);
        _pieces.Clear();
        _splitter.Push(o.TextDelta ?? "", _pieces);
        if (o.FinishReason is { } finish) _splitter.Flush(_pieces);
        foreach (var (reasoning, text) in _pieces)
        {
            if (reasoning) { Reasoning.Append(text); continue; }
            Content.Append(_tools is null ? text : _tools.Push(text));
        }
        if (o.FinishReason is { } f)
        {
            Finished = true;
            EngineFinish = f;
            if (_tools is not null)
            {
                string held = _tools.Finish(out var calls);
                Content.Append(held);
                Calls = calls;
            }
        }
    }

    /// <summary>OpenAI's finish_reason: tool_calls, length or stop.</summary>
    public string FinishReason => Calls.Count > 0 ? "tool_calls" : EngineFinish == AI.Requests.FinishReason.Length ? "length" : "stop";
}
