using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using PagedAttention.AI.Chat;
using PagedAttention.AI.Chat.StructuredOutput;
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

    /// <summary>
    /// <see cref="ChatOptions.AdditionalProperties"/> key: <c>true</c> lets messages with images, audio or files
    /// (<see cref="DataContent"/>, <see cref="UriContent"/>, <see cref="HostedFileContent"/>) through with those contents
    /// left out — a warning in the log and a <see cref="ContentIgnoredKey"/> note on the response — instead of a
    /// <see cref="NotSupportedException"/> naming them. The models this engine runs read text only.
    /// </summary>
    public const string IgnoreUnsupportedContentKey = "ignore_unsupported_content";

    /// <summary>
    /// <see cref="ChatResponse.AdditionalProperties"/> key (on the final update of a stream): present when the request
    /// offered tools but the model's chat template does not render them (the prompt is the same with and without
    /// them), so the model never saw the tools; the value says so in words. The log gets a warning once per client.
    /// </summary>
    public const string ToolsNotRenderedKey = "tools_not_rendered";

    /// <summary><see cref="ChatResponse.AdditionalProperties"/> key: the contents left out under <see cref="IgnoreUnsupportedContentKey"/>, in words.</summary>
    public const string ContentIgnoredKey = "content_ignored";

    /// <summary>The provider name reported in <see cref="ChatClientMetadata"/>.</summary>
    public const string ProviderName = "PagedAttention.AI";

    private readonly LlmEngine _engine;
    private readonly ChatModelAssets _assets;
    private readonly ChatClientMetadata _metadata;
    private readonly bool _ownsEngine;
    private int _toolRendering; // 0: not seen yet; 1: the template renders tools; 2: it ignores them
    private int _warnedTools, _warnedContent;

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
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var notes = new AdditionalPropertiesDictionary();
        var response = await Observe(GetStreamingResponseAsync(messages, options, cancellationToken), notes).ToChatResponseAsync(cancellationToken).ConfigureAwait(false);
        // ToChatResponseAsync keeps an update's AdditionalProperties on its message; the notes are about the response.
        if (notes.Count > 0)
        {
            response.AdditionalProperties ??= [];
            foreach (var (key, value) in notes) response.AdditionalProperties[key] = value;
        }
        return response;
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Observe(IAsyncEnumerable<ChatResponseUpdate> updates, AdditionalPropertiesDictionary notes)
    {
        await foreach (var u in updates.ConfigureAwait(false))
        {
            if (u.AdditionalProperties is { } p)
                foreach (var key in (string[])[ToolsNotRenderedKey, ContentIgnoredKey])
                    if (p.TryGetValue(key, out var v)) notes[key] = v;
            yield return u;
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var chat = Prepare(messages, options, 1, cancellationToken);
        var (promptIds, sampling, notes) = (chat.PromptIds, chat.Sampling, chat.Notes);
        bool showReasoning = options?.Reasoning?.Output is not ReasoningOutput.None;
        var splitter = new ReasoningSplitter(chat.StartsInReasoning);
        var tools = chat.ToolsOffered ? new ToolCallStream() : null;

        string responseId = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow;
        var pieces = new List<(bool Reasoning, string Text)>();
        int outputTokens = 0, cachedTokens = 0;
        EngineFinish? finish = null;

        await foreach (var o in _engine.GenerateAsync(promptIds, sampling, chat.Detokenizer, cancellationToken).ConfigureAwait(false))
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
        var last = Update(final, responseId, created,
            calledTools ? ChatFinishReason.ToolCalls : finish == EngineFinish.Length ? ChatFinishReason.Length : ChatFinishReason.Stop);
        if (notes.Count > 0) last.AdditionalProperties = notes;
        yield return last;
    }

    /// <summary>
    /// Everything a chat request becomes before it reaches the engine: contents checked, structured-output plan and
    /// hint, template rendered (tools noted when the template ignores them), prompt encoded under the prompt-injection
    /// guard, <see cref="Sampling.SamplingParams"/> mapped from <paramref name="options"/> with <paramref name="n"/> samples and
    /// the constraint. <see cref="GetStreamingResponseAsync"/> streams one sample of it; the OpenAI server
    /// (PagedAttention.Server) streams n samples with logprobs through the engine itself.
    /// </summary>
    /// <exception cref="InvalidOperationException">A model other than <see cref="ModelId"/> was requested, or an option is malformed.</exception>
    /// <exception cref="NotSupportedException">A message holds media this model cannot read.</exception>
    /// <exception cref="ArgumentException">A sampling parameter is out of range.</exception>
    internal PreparedChat Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options, int n, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (options?.ModelId is { } requested && !string.Equals(requested, ModelId, StringComparison.Ordinal))
            throw new InvalidOperationException($"Model '{requested}' is not served by this client; it serves '{ModelId}'.");

        var list = messages as IList<ChatMessage> ?? messages.ToList();
        var notes = new AdditionalPropertiesDictionary();
        CheckContents(list, options, notes);

        // Structured output: what is constrained, and what the model is told (appended to its system prompt).
        var plan = ConstraintPlan.For(options, _assets.ToolFormat);
        if (plan?.Hint is { } hint) list = WithSystemHint(list, hint);

        var (prompt, promptIds) = BuildPrompt(list, options, cancellationToken);
        if (ChatContextBuilder.ToolsOffered(options) && TemplateIgnoresTools(list, options!, prompt, cancellationToken))
        {
            if (options!.ToolMode is RequiredChatToolMode)
            {
                // The call is forced by the constraint either way; since the template cannot show the tools, the
                // system prompt lists them, so that the model sees what it is calling.
                list = WithSystemHint(list, ToolsHint(options));
                (prompt, promptIds) = BuildPrompt(list, options, cancellationToken);
            }
            notes[ToolsNotRenderedKey] = $"The chat template of model '{ModelId}' does not render tools; the {options.Tools!.Count} tool(s) offered were not shown to the model.";
            if (Interlocked.Exchange(ref _warnedTools, 1) == 0)
                _engine.Logger.LogWarning("PagedAttention: the chat template of model {Model} does not render tools; tools offered in ChatOptions.Tools are not shown to the model (noted in ChatResponse.AdditionalProperties[\"{Key}\"]). Use a model whose template takes tools.", ModelId, ToolsNotRenderedKey);
        }

        // An optional tool call is only constrained where the template shows the tools to the model.
        if (plan?.Trigger is not null && notes.ContainsKey(ToolsNotRenderedKey)) plan = null;
        Func<Sampling.ITokenConstraint>? constraint = null;
        if (plan is not null)
        {
            constraint = _assets.StructuredOutput.Compile(plan);
            // A reasoning model thinks first: the constraint starts after its reasoning block ends.
            if (plan.Trigger is null && _assets.HasReasoning && !prompt.TrimEnd().EndsWith("</think>", StringComparison.Ordinal))
            {
                var body = constraint;
                var texts = _assets.StructuredOutput;
                constraint = () => new TriggeredConstraint("</think>", body, texts.TokenText, rearm: false);
            }
        }

        var sampling = ChatOptionsMapper.Map(options, this, Math.Max(1, _engine.MaxModelLen - promptIds.Length), constraint, n);
        return new PreparedChat(prompt, promptIds, sampling, _engine.ConfiguredDetokenizer ?? _assets.Detokenizer, notes,
            ChatContextBuilder.ToolsOffered(options), prompt.TrimEnd().EndsWith("<think>", StringComparison.Ordinal));
    }

    /// <summary>
    /// Images, audio and files: a <see cref="NotSupportedException"/> naming each, or (with
    /// <see cref="IgnoreUnsupportedContentKey"/>) a note and a warning once per client. Never silently dropped.
    /// </summary>
    private void CheckContents(IList<ChatMessage> messages, ChatOptions? options, AdditionalPropertiesDictionary notes)
    {
        var unsupported = UnsupportedContent.Find(messages);
        if (unsupported.Count == 0) return;
        string what = string.Join("; ", unsupported);
        if (!IsTrue(options, IgnoreUnsupportedContentKey))
            throw new NotSupportedException($"Model '{ModelId}' reads text only; the request holds {what}. Send text, or set ChatOptions.AdditionalProperties[\"{IgnoreUnsupportedContentKey}\"] = true to leave such contents out.");
        notes[ContentIgnoredKey] = $"Left out (model '{ModelId}' reads text only): {what}.";
        if (Interlocked.Exchange(ref _warnedContent, 1) == 0)
            _engine.Logger.LogWarning("PagedAttention: model {Model} reads text only; left out {Contents} (ChatOptions.AdditionalProperties[\"{Key}\"] is set). Later requests are noted in ChatResponse.AdditionalProperties only.", ModelId, what, IgnoreUnsupportedContentKey);
    }

    /// <summary>
    /// Whether the chat template ignores <c>tools</c>: the prompt rendered without them is identical. Decided once per
    /// client, on the first request that offers tools (a template renders tools or does not), so later requests do
    /// not render twice.
    /// </summary>
    private bool TemplateIgnoresTools(IList<ChatMessage> messages, ChatOptions options, string prompt, CancellationToken cancellationToken)
    {
        int state = Volatile.Read(ref _toolRendering);
        if (state != 0) return state == 2;
        var withoutTools = options.Clone();
        withoutTools.Tools = null;
        bool ignores = string.Equals(prompt, BuildPrompt(messages, withoutTools, cancellationToken).Prompt, StringComparison.Ordinal);
        Volatile.Write(ref _toolRendering, ignores ? 2 : 1);
        return ignores;
    }

    private static bool IsTrue(ChatOptions? options, string key) =>
        options?.AdditionalProperties?.TryGetValue(key, out var v) == true && v is true or JsonElement { ValueKind: JsonValueKind.True };

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

    private static string ToolsHint(ChatOptions options) =>
        "You must call one of these tools, written as <tool_call>{\"name\": ..., \"arguments\": {...}}</tool_call>:\n" +
        string.Join("\n", options.Tools!.OfType<AIFunctionDeclaration>().Select(f => $"- {f.Name}: {f.Description} Parameters: {f.JsonSchema.GetRawText()}"));

    // The structured-output hint goes at the end of the first system message (a new one when there is none), so that
    // requests sharing a system prompt and a schema still share their prompt prefix.
    private static IList<ChatMessage> WithSystemHint(IList<ChatMessage> messages, string hint)
    {
        var copy = new List<ChatMessage>(messages);
        int i = copy.FindIndex(m => m.Role == ChatRole.System);
        if (i < 0) copy.Insert(0, new ChatMessage(ChatRole.System, hint));
        else
        {
            var m = copy[i].Clone();
            m.Contents = [.. m.Contents, new TextContent((m.Text.Length > 0 ? "\n\n" : "") + hint)];
            copy[i] = m;
        }
        return copy;
    }

    /// <summary>
    /// Renders and encodes a request's prompt: the template context, the prompt-injection defence (special-token text
    /// inside messages stays text; unknown roles are rejected) unless <see cref="TrustContentKey"/> is set, the template,
    /// the tokenizer.
    /// </summary>
    internal (string Prompt, int[] Ids) BuildPrompt(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken = default)
    {
        var tokenizer = _assets.Tokenizer;
        bool trusted = IsTrue(options, TrustContentKey);
        var context = ChatContextBuilder.Build(messages, options, tokenizer.BosToken, tokenizer.EosToken, trusted ? null : _assets.IsKnownRole);
        var markers = trusted ? null : _assets.Guard.Protect(context);
        cancellationToken.ThrowIfCancellationRequested();
        string prompt = _assets.Template.Render(context, cancellationToken); // the budget and the token stop a hostile template
        if (markers is null) return (prompt, tokenizer.Encode(prompt, addSpecialTokens: false));
        var plain = new List<(int Start, int Length)>();
        prompt = SpecialTokenGuard.Restore(prompt, markers, plain);
        return (prompt, tokenizer.Encode(prompt, addSpecialTokens: false, CollectionsMarshal.AsSpan(plain)));
    }

    /// <summary>
    /// Pins the system prompt <paramref name="instructions"/> (as <see cref="ChatOptions.Instructions"/> renders it through
    /// the model's chat template) in the engine's prefix cache: see <see cref="LlmEngine.PinPrefixAsync"/>. Every later
    /// call whose options carry the same instructions (e.g. an Agent Framework <c>ChatClientAgent</c>'s) and the same
    /// <c>cache_salt</c> starts from the pinned blocks. Dispose the handle to unpin.
    /// </summary>
    /// <exception cref="ArgumentException">The rendered preamble is shorter than one KV block, or too long to pin.</exception>
    /// <exception cref="InvalidOperationException">Prefix caching is off, or the pool's pinning share would be exceeded.</exception>
    public Task<PrefixPin> PinInstructionsAsync(string instructions, string? cacheSalt = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instructions);
        var options = new ChatOptions { Instructions = instructions };
        if (cacheSalt is not null) options.AdditionalProperties = new() { ["cache_salt"] = cacheSalt };
        return PinPromptPrefixAsync([], options, cancellationToken);
    }

    /// <summary>
    /// Pins the tokens that every conversation starting with <paramref name="preamble"/> (after the system prompt and
    /// tools of <paramref name="options"/>) shares, as the model's template renders it: the common token prefix of that
    /// preamble followed by two different user turns, so no template or tokenizer boundary is guessed. The salt is the
    /// options' <c>cache_salt</c>. See <see cref="LlmEngine.PinPrefixAsync"/>; dispose the handle to unpin.
    /// </summary>
    /// <exception cref="ArgumentException">The rendered preamble is shorter than one KV block, or too long to pin.</exception>
    /// <exception cref="InvalidOperationException">Prefix caching is off, or the pool's pinning share would be exceeded.</exception>
    public Task<PrefixPin> PinPromptPrefixAsync(IEnumerable<ChatMessage> preamble, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(preamble);
        var list = preamble.ToList();
        var (_, a) = BuildPrompt([.. list, new ChatMessage(ChatRole.User, "A probe.")], options, cancellationToken);
        var (_, b) = BuildPrompt([.. list, new ChatMessage(ChatRole.User, "Something else.")], options, cancellationToken);
        int common = a.AsSpan().CommonPrefixLength(b);
        string? salt = ChatOptionsMapper.Map(options, this, 1).CacheSalt;
        return _engine.PinPrefixAsync(a[..common], salt, cancellationToken);
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
