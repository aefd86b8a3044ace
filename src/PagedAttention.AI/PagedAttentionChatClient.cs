using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text;
using Microsoft.Extensions.AI;
using PagedAttention.AI.Chat;
using PagedAttention.AI.Engine;
using EngineFinish = PagedAttention.AI.Requests.FinishReason;

namespace PagedAttention.AI;

/// <summary>
/// An <see cref="IChatClient"/> over an <see cref="LlmEngine"/>. Thread-safe: concurrent calls become concurrent
/// requests of the one engine, which batches them and shares the KV blocks of their common prompt prefix.
/// Messages are rendered with the model's own chat template and tokenized with its own tokenizer.
/// </summary>
public sealed class PagedAttentionChatClient : IChatClient
{
    /// <summary>
    /// <see cref="ChatOptions.AdditionalProperties"/> key: <c>true</c> restores the behaviour before the
    /// prompt-injection defence — special-token text inside messages becomes control tokens, and any role is rendered.
    /// Only for callers whose messages are fully trusted (docs/reliability.md).
    /// </summary>
    public const string TrustContentKey = "special_tokens_in_content";

    /// <summary>The provider name reported in <see cref="ChatClientMetadata"/>.</summary>
    public const string ProviderName = "PagedAttention.AI";

    private readonly LlmEngine _engine;
    private readonly ChatModelAssets _assets;
    private readonly ChatClientMetadata _metadata;
    private readonly bool _ownsEngine;

    /// <summary>Creates a client over <paramref name="engine"/>.</summary>
    /// <param name="engine">The engine; its model directory must hold tokenizer.json and a chat_template.</param>
    /// <param name="modelId">The model id reported and accepted in <see cref="ChatOptions.ModelId"/>; defaults to the model directory's name.</param>
    /// <param name="ownsEngine">Dispose the engine with this client.</param>
    /// <exception cref="InvalidOperationException">The model directory has no tokenizer.json or no chat template.</exception>
    /// <exception cref="Models.ModelLoadException">The chat template does not parse.</exception>
    public PagedAttentionChatClient(LlmEngine engine, string? modelId = null, bool ownsEngine = false)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
        _assets = ChatModelAssets.Load(engine);
        ModelId = modelId ?? _assets.ModelId;
        _metadata = new ChatClientMetadata(ProviderName, providerUri: null, defaultModelId: ModelId);
        _ownsEngine = ownsEngine;
    }

    /// <summary>The model id this client serves.</summary>
    public string ModelId { get; }

    /// <inheritdoc />
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (options?.ModelId is { } requested && !string.Equals(requested, ModelId, StringComparison.Ordinal))
            throw new InvalidOperationException($"Model '{requested}' is not served by this client; it serves '{ModelId}'.");

        if (options?.ToolMode is RequiredChatToolMode && ChatContextBuilder.ToolsOffered(options))
            throw new NotSupportedException("ChatOptions.ToolMode RequireAny/RequireSpecific needs constrained decoding, which PagedAttention.AI does not implement yet; use ChatToolMode.Auto.");

        if (options?.ResponseFormat is ChatResponseFormatJson)
            throw new NotSupportedException("ChatOptions.ResponseFormat JSON needs constrained decoding, which PagedAttention.AI does not implement yet; ask for JSON in the prompt instead (e.g. GetResponseAsync<T>(..., useJsonSchemaResponseFormat: false)).");

        var (prompt, promptIds) = BuildPrompt(messages, options, cancellationToken);
        var sampling = ChatOptionsMapper.Map(options, this, Math.Max(1, _engine.MaxModelLen - promptIds.Length));
        bool toolsOffered = ChatContextBuilder.ToolsOffered(options);
        bool showReasoning = options?.Reasoning?.Output is not ReasoningOutput.None;
        var splitter = new ReasoningSplitter(startInReasoning: prompt.TrimEnd().EndsWith("<think>", StringComparison.Ordinal));
        var tools = toolsOffered ? new ToolCallStream() : null;

        string responseId = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow;
        var pieces = new List<(bool Reasoning, string Text)>();
        int outputTokens = 0, cachedTokens = 0;
        EngineFinish? finish = null;

        await foreach (var o in _engine.GenerateAsync(promptIds, sampling, _engine.ConfiguredDetokenizer ?? _assets.Detokenizer, cancellationToken).ConfigureAwait(false))
        {
            outputTokens++;
            cachedTokens = o.CachedTokens;
            finish = o.FinishReason;
            pieces.Clear();
            splitter.Push(o.TextDelta ?? "", pieces);
            if (finish is not null) splitter.Flush(pieces);
            foreach (var update in Updates(pieces, tools, showReasoning, responseId, created))
                yield return update;
        }

        var final = new List<AIContent>();
        bool calledTools = false;
        if (tools is not null)
        {
            string held = tools.Finish(out var calls);
            if (calls.Count > 0) { final.AddRange(calls); calledTools = true; }
            if (held.Length > 0) final.Insert(0, new TextContent(held));
        }
        final.Add(new UsageContent(new UsageDetails
        {
            InputTokenCount = promptIds.Length,
            OutputTokenCount = outputTokens,
            TotalTokenCount = promptIds.Length + outputTokens,
            CachedInputTokenCount = cachedTokens,
        }));
        yield return Update(final, responseId, created,
            calledTools ? ChatFinishReason.ToolCalls : finish == EngineFinish.Length ? ChatFinishReason.Length : ChatFinishReason.Stop);
    }

    private IEnumerable<ChatResponseUpdate> Updates(List<(bool Reasoning, string Text)> pieces, ToolCallStream? tools, bool showReasoning, string responseId, DateTimeOffset created)
    {
        foreach (var (reasoning, text) in pieces)
        {
            if (reasoning)
            {
                if (showReasoning) yield return Update([new TextReasoningContent(text)], responseId, created, null);
                continue;
            }
            string visible = tools is null ? text : tools.Push(text);
            if (visible.Length > 0) yield return Update([new TextContent(visible)], responseId, created, null);
        }
    }

    private ChatResponseUpdate Update(IList<AIContent> contents, string responseId, DateTimeOffset created, ChatFinishReason? finish) => new(ChatRole.Assistant, contents)
    {
        ResponseId = responseId,
        MessageId = responseId,
        CreatedAt = created,
        ModelId = ModelId,
        FinishReason = finish,
    };

    /// <summary>
    /// Renders and encodes a request's prompt: the template context, the prompt-injection defence (special-token text
    /// inside messages stays text; unknown roles are rejected) unless <see cref="TrustContentKey"/> is set, the template,
    /// the tokenizer.
    /// </summary>
    internal (string Prompt, int[] Ids) BuildPrompt(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken = default)
    {
        var tokenizer = _assets.Tokenizer;
        bool trusted = options?.AdditionalProperties?.TryGetValue(TrustContentKey, out var t) == true && t is true or JsonElement { ValueKind: JsonValueKind.True };
        var context = ChatContextBuilder.Build(messages, options, tokenizer.BosToken, tokenizer.EosToken, trusted ? null : _assets.IsKnownRole);
        var markers = trusted ? null : _assets.Guard.Protect(context);
        cancellationToken.ThrowIfCancellationRequested();
        string prompt = _assets.Template.Render(context, cancellationToken); // the budget and the token stop a hostile template
        if (markers is null) return (prompt, tokenizer.Encode(prompt, addSpecialTokens: false));
        var plain = new List<(int Start, int Length)>();
        prompt = SpecialTokenGuard.Restore(prompt, markers, plain);
        return (prompt, tokenizer.Encode(prompt, addSpecialTokens: false, CollectionsMarshal.AsSpan(plain)));
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType.IsInstanceOfType(_engine)) return _engine;
        if (serviceType.IsInstanceOfType(_assets.Tokenizer)) return _assets.Tokenizer;
        if (serviceType.IsInstanceOfType(_assets.Template)) return _assets.Template;
        return null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsEngine) _engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
