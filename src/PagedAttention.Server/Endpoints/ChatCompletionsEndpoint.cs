using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using PagedAttention.AI.Chat;
using PagedAttention.AI.Engine;
using PagedAttention.Server.Hosting;
using PagedAttention.Server.Protocol;

namespace PagedAttention.Server.Endpoints;

/// <summary>
/// <c>POST /v1/chat/completions</c>. The request is prepared by the chat client (template, prompt-injection guard,
/// structured output, tool-call format) and run through the engine's own API, which gives what IChatClient has no
/// place for: n samples of one prompt, per-token logprobs, cached tokens per sequence. A disconnecting client
/// cancels <see cref="HttpContext.RequestAborted"/>, which aborts the engine request at its next step.
/// </summary>
internal static class ChatCompletionsEndpoint
{
    public static async Task HandleAsync(HttpContext http)
    {
        var ctx = http.RequestServices.GetRequiredService<ServerContext>();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        timeout.CancelAfter(ctx.Options.RequestTimeout);
        var ct = timeout.Token;
        SseWriter? sse = null;
        bool admitted = false;
        try
        {
            var (tenant, state) = ctx.Admit(http);
            using var doc = await JsonBody.ReadAsync(http.Request, ctx.Options.MaxRequestBodyBytes, ct).ConfigureAwait(false);
            var engine = state.Engine;
            var req = ChatRequest.Parse(doc.RootElement, Math.Min(ctx.Options.MaxN, engine.MaxNumSeqs), engine.Model.Config.VocabSize);
            ServerContext.CheckModel(req.Common.Model, state);
            // The tenant's namespace: a server-derived salt wins over (and hides) any cache_salt the client sent.
            string? salt = tenant.SaltIsServers ? tenant.CacheSalt : req.Common.CacheSalt;
            if (salt is not null) req.Options.AdditionalProperties!["cache_salt"] = salt;

            PreparedChat chat;
            try { chat = state.Client.Prepare(req.Messages, req.Options, req.Common.N, ct); }
            catch (Exception e) when (ServerContext.ClientError(e) is { } bad) { throw bad; }
            ServerContext.CheckContext(chat.PromptIds.Length, req.Common.MaxTokens, engine, "messages");

            using var ticket = state.Admission.Enter(req.Common.N);
            admitted = true;
            ctx.Stats.Admit();
            var choices = Enumerable.Range(0, req.Common.N).Select(i => new ChatChoice(i, chat.StartsInReasoning, chat.ToolsOffered)).ToArray();
            var stream = engine.GenerateAsync(chat.PromptIds, chat.Sampling, chat.Detokenizer, ct).GetAsyncEnumerator(ct);
            try
            {
                // The request is validated and queued by the first MoveNextAsync; a bad one fails there, before any byte is sent.
                var first = stream.MoveNextAsync().AsTask();
                if (first.IsFaulted) await first.ConfigureAwait(false);
                var response = new ChatResponseJson(state, req, engine.Tokenizer!);
                if (req.Common.Stream)
                {
                    sse = new SseWriter(http.Response);
                    await sse.StartAsync(ct).ConfigureAwait(false);
                    await StreamAsync(sse, response, choices, stream, first, chat.PromptIds.Length, req, ct).ConfigureAwait(false);
                }
                else
                {
                    for (bool more = await first.ConfigureAwait(false); more; more = await stream.MoveNextAsync().ConfigureAwait(false))
                        choices[stream.Current.SequenceIndex].Push(stream.Current, req.Logprobs);
                    http.Response.ContentType = "application/json";
                    var body = response.Complete(choices, chat.PromptIds.Length);
                    await http.Response.Body.WriteAsync(body, ct).ConfigureAwait(false);
                }
            }
            finally { await stream.DisposeAsync().ConfigureAwait(false); }
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            if (admitted) ctx.Stats.Cancel(); // the client left: the engine request is aborted
            return;
        }
        catch (Exception e)
        {
            await FailAsync(http, ctx, timeout, sse, admitted, e).ConfigureAwait(false);
            return;
        }
        ctx.Stats.Complete();
    }

    /// <summary>
    /// Maps a request's failure to its OpenAI error (504 past the request timeout, the client's error, else a server
    /// fault), counts it, and sends it as a JSON body or, once streaming began, as an error event.
    /// </summary>
    internal static async Task FailAsync(HttpContext http, ServerContext ctx, CancellationTokenSource timeout, SseWriter? sse, bool admitted, Exception e)
    {
        var error = e switch
        {
            OperationCanceledException when timeout.IsCancellationRequested => new OpenAIException(504, $"The request ran longer than Server:RequestTimeout ({ctx.Options.RequestTimeout}).", "server_error", null, "timeout"),
            _ => ServerContext.ClientError(e) ?? ctx.ServerFault(e),
        };
        if (admitted) ctx.Stats.Fail(); else ctx.Stats.Reject(error.Status);
        await WriteErrorAsync(http, sse, error).ConfigureAwait(false);
    }

    internal static async Task WriteErrorAsync(HttpContext http, SseWriter? sse, OpenAIException error)
    {
        if (sse is { Started: true })
        {
            try { await sse.ErrorAsync(error, http.RequestAborted).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or IOException) { }
        }
        else await ErrorWriter.WriteAsync(http, error).ConfigureAwait(false);
    }

    private static async Task StreamAsync(SseWriter sse, ChatResponseJson response, ChatChoice[] choices, IAsyncEnumerator<GenerationOutput> stream,
        Task<bool> first, int promptTokens, ChatRequest req, CancellationToken ct)
    {
        foreach (var c in choices)
        {
            response.RoleChunk(sse.Begin(), c.Index);
            await sse.SendAsync(ct).ConfigureAwait(false);
        }
        for (bool more = await first.ConfigureAwait(false); more; more = await stream.MoveNextAsync().ConfigureAwait(false))
        {
            var o = stream.Current;
            var c = choices[o.SequenceIndex];
            c.Push(o, req.Logprobs);
            if (c.Content.Length > 0 || c.Reasoning.Length > 0 || (c.PendingLogprobs.Count > 0 && !c.Finished))
            {
                response.ContentChunk(sse.Begin(), c);
                await sse.SendAsync(ct).ConfigureAwait(false);
                c.Content.Clear();
                c.Reasoning.Clear();
                c.PendingLogprobs.Clear();
            }
            if (!c.Finished) continue;
            for (int k = 0; k < c.Calls.Count; k++)
            {
                response.ToolCallChunk(sse.Begin(), c, k, nameOnly: true);
                await sse.SendAsync(ct).ConfigureAwait(false);
                response.ToolCallChunk(sse.Begin(), c, k, nameOnly: false);
                await sse.SendAsync(ct).ConfigureAwait(false);
            }
            response.FinishChunk(sse.Begin(), c);
            await sse.SendAsync(ct).ConfigureAwait(false);
        }
        if (req.Common.IncludeUsage)
        {
            response.UsageChunk(sse.Begin(), choices, promptTokens);
            await sse.SendAsync(ct).ConfigureAwait(false);
        }
        await sse.DoneAsync(ct).ConfigureAwait(false);
    }
}
