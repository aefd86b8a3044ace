using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;
using PagedAttention.Server.Hosting;
using PagedAttention.Server.Protocol;
using EngineFinish = PagedAttention.AI.Requests.FinishReason;

namespace PagedAttention.Server.Endpoints;

/// <summary>
/// <c>POST /v1/completions</c>: a prompt as a string, a list of strings, a list of token ids or a list of such lists;
/// each prompt is one engine request of n sequences (choice index = prompt × n + sequence), run concurrently. String
/// prompts are encoded as vLLM does (special tokens added; special-token text in a raw prompt is a control token —
/// this endpoint takes raw prompts, the chat endpoint guards message contents).
/// </summary>
internal static class CompletionsEndpoint
{
    /// <summary>Most prompts in one request.</summary>
    public const int MaxPrompts = 64;

    /// <summary>Most logprobs (vLLM's limit; OpenAI's is 5).</summary>
    public const int MaxLogprobs = 20;

    private sealed class Choice(int index)
    {
        public int Index { get; } = index;
        public StringBuilder Text { get; } = new();
        public int Tokens { get; set; }
        public int Cached { get; set; }
        public EngineFinish? Finish { get; set; }
        public List<GenerationOutput> Logprobs { get; } = [];
        public int TextOffset { get; set; }
    }

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
            var tokenizer = engine.Tokenizer!;
            var body = doc.RootElement;
            int vocab = engine.Model.Config.VocabSize;
            var common = CommonRequest.Parse(body, Math.Min(ctx.Options.MaxN, engine.MaxNumSeqs), vocab, "max_tokens");
            ServerContext.CheckModel(common.Model, state);
            int logprobs = (int)(Fields.Integer(body, "logprobs", 0, MaxLogprobs) ?? -1);
            bool echo = Fields.Bool(body, "echo") ?? false;
            if (Fields.Has(body, "suffix", out _)) throw OpenAIException.Invalid("suffix", "'suffix' is not supported (the served models have no fill-in-the-middle format).");
            if (Fields.Integer(body, "best_of", 1, int.MaxValue) is { } bestOf && bestOf != common.N)
                throw OpenAIException.Invalid("best_of", "'best_of' other than n is not supported.");
            var (prompts, texts) = Prompts(body, tokenizer, vocab);
            foreach (var p in prompts) ServerContext.CheckContext(p.Length, common.MaxTokens, engine, "prompt");
            string? salt = tenant.SaltIsServers ? tenant.CacheSalt : common.CacheSalt;
            int n = common.N;
            var choices = new Choice[prompts.Count * n];
            for (int i = 0; i < choices.Length; i++) choices[i] = new Choice(i);
            using var ticket = state.Admission.Enter(choices.Length);
            admitted = true;
            ctx.Stats.Admit();

            var channel = Channel.CreateUnbounded<(int Prompt, GenerationOutput Output)>(new UnboundedChannelOptions { SingleReader = true });
            var pumps = new List<Task>();
            bool done = false;
            try
            {
                for (int i = 0; i < prompts.Count; i++)
                {
                    var sampling = new SamplingParams
                    {
                        Temperature = common.Temperature ?? 1f,
                        TopP = common.TopP ?? 1f,
                        TopK = common.TopK ?? 0,
                        MinP = common.MinP ?? 0f,
                        PresencePenalty = common.PresencePenalty ?? 0f,
                        FrequencyPenalty = common.FrequencyPenalty ?? 0f,
                        RepetitionPenalty = common.RepetitionPenalty ?? 1f,
                        Seed = common.Seed,
                        MaxTokens = common.MaxTokens ?? 16,
                        MinTokens = Math.Min(common.MinTokens ?? 0, common.MaxTokens ?? 16),
                        IgnoreEos = common.IgnoreEos,
                        StopTokenIds = common.StopTokenIds ?? [],
                        StopStrings = common.Stop ?? [],
                        Logprobs = logprobs < 0 ? 0 : Math.Max(1, logprobs),
                        N = n,
                        CacheSalt = salt,
                    };
                    var stream = engine.GenerateAsync(prompts[i], sampling, ct).GetAsyncEnumerator(ct);
                    // The request is validated and queued by the first MoveNextAsync: a bad one fails before any byte is sent.
                    var first = stream.MoveNextAsync().AsTask();
                    if (first.IsFaulted)
                    {
                        await stream.DisposeAsync().ConfigureAwait(false);
                        await first.ConfigureAwait(false);
                    }
                    pumps.Add(Pump(i, stream, first, channel.Writer));
                }
                _ = Task.WhenAll(pumps).ContinueWith(t => channel.Writer.TryComplete(t.Exception?.InnerException), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
                var merged = channel.Reader.ReadAllAsync(ct);
                if (echo)
                    for (int p = 0; p < prompts.Count; p++)
                        for (int k = 0; k < n; k++)
                        {
                            var c = choices[p * n + k];
                            c.Text.Append(texts[p] ?? tokenizer.Decode(prompts[p], skipSpecialTokens: true));
                        }
                var json = new CompletionJson(state.ModelId, common.IncludeUsage, logprobs, tokenizer);
                if (common.Stream)
                {
                    sse = new SseWriter(http.Response);
                    await sse.StartAsync(ct).ConfigureAwait(false);
                    if (echo)
                        foreach (var c in choices)
                        {
                            json.Chunk(sse.Begin(), c.Index, c.Text.ToString(), null, 0, null);
                            await sse.SendAsync(ct).ConfigureAwait(false);
                            c.TextOffset = c.Text.Length;
                            c.Text.Clear();
                        }
                    await foreach (var (p, o) in merged.ConfigureAwait(false))
                    {
                        var c = choices[p * n + o.SequenceIndex];
                        Accept(c, o, logprobs);
                        if (c.Text.Length == 0 && o.FinishReason is null && logprobs < 0) continue;
                        json.Chunk(sse.Begin(), c.Index, c.Text.ToString(), logprobs >= 0 ? c.Logprobs : null, c.TextOffset, o.FinishReason is { } f ? Reason(f) : null);
                        await sse.SendAsync(ct).ConfigureAwait(false);
                        c.TextOffset += c.Text.Length;
                        c.Text.Clear();
                        c.Logprobs.Clear();
                    }
                    if (common.IncludeUsage)
                    {
                        json.Usage(sse.Begin(), prompts.Sum(p => p.Length), choices.Sum(c => c.Tokens), Cached(choices, n));
                        await sse.SendAsync(ct).ConfigureAwait(false);
                    }
                    await sse.DoneAsync(ct).ConfigureAwait(false);
                    done = true;
                }
                else
                {
                    await foreach (var (p, o) in merged.ConfigureAwait(false)) Accept(choices[p * n + o.SequenceIndex], o, logprobs);
                    http.Response.ContentType = "application/json";
                    await http.Response.Body.WriteAsync(json.Complete(choices.Select(c => (c.Index, c.Text.ToString(), c.Finish is { } f ? Reason(f) : "stop", (IReadOnlyList<GenerationOutput>)c.Logprobs)).ToArray(),
                        prompts.Sum(p => p.Length), choices.Sum(c => c.Tokens), Cached(choices, n)), ct).ConfigureAwait(false);
                    done = true;
                }
            }
            finally
            {
                // An early end (error, client gone) aborts the prompts still running; their pumps dispose their streams.
                if (!done) timeout.Cancel();
                try { await Task.WhenAll(pumps).ConfigureAwait(false); }
                catch (Exception) { } // already reported through the channel, or cancelled
            }
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            if (admitted) ctx.Stats.Cancel(); // the client left: the engine request is aborted
            return;
        }
        catch (Exception e)
        {
            await ChatCompletionsEndpoint.FailAsync(http, ctx, timeout, sse, admitted, e).ConfigureAwait(false);
            return;
        }
        ctx.Stats.Complete();
    }

    private static void Accept(Choice c, GenerationOutput o, int logprobs)
    {
        c.Tokens++;
        c.Cached = o.CachedTokens;
        c.Text.Append(o.TextDelta);
        if (logprobs >= 0) c.Logprobs.Add(o);
        if (o.FinishReason is { } f) c.Finish = f;
    }

    private static int Cached(Choice[] choices, int n) => choices.Chunk(n).Sum(g => g.Max(c => c.Cached));

    private static string Reason(EngineFinish f) => f == EngineFinish.Length ? "length" : "stop";

    /// <summary>The prompts as token ids, and as text where they came as text (echo returns that text as sent).</summary>
    private static (List<int[]> Ids, List<string?> Texts) Prompts(JsonElement body, Text.Tokenization.Tokenizer tokenizer, int vocab)
    {
        if (!Fields.Has(body, "prompt", out var p)) throw OpenAIException.Invalid("prompt", "'prompt' is required.");
        var list = new List<int[]>();
        var texts = new List<string?>();
        void Add(string text) { texts.Add(text); list.Add(Encode(tokenizer, text)); }
        void AddIds(int[] ids) { texts.Add(null); list.Add(ids); }
        if (p.ValueKind == JsonValueKind.String) Add(Fields.Text(p, "prompt"));
        else if (p.ValueKind == JsonValueKind.Array && p.GetArrayLength() > 0)
        {
            var kind = p[0].ValueKind;
            if (kind == JsonValueKind.Number) AddIds(Fields.TokenIds(p, "prompt", vocab));
            else
                foreach (var e in p.EnumerateArray())
                {
                    if (e.ValueKind == JsonValueKind.String) Add(Fields.Text(e, "prompt"));
                    else if (e.ValueKind == JsonValueKind.Array) AddIds(Fields.TokenIds(e, "prompt", vocab));
                    else throw OpenAIException.Invalid("prompt", "'prompt' must be a string, a list of strings, a list of token ids or a list of lists of token ids.");
                }
        }
        else throw OpenAIException.Invalid("prompt", "'prompt' must be a non-empty string, a list of strings, a list of token ids or a list of lists of token ids.");
        if (list.Count > MaxPrompts) throw OpenAIException.Invalid("prompt", $"At most {MaxPrompts} prompts per request, got {list.Count}.");
        if (list.Any(ids => ids.Length == 0)) throw OpenAIException.Invalid("prompt", "A prompt is empty.");
        return (list, texts);
    }

    private static int[] Encode(Text.Tokenization.Tokenizer tokenizer, string text) => tokenizer.Encode(text, addSpecialTokens: true);

    private static async Task Pump(int prompt, IAsyncEnumerator<GenerationOutput> stream, Task<bool> first, ChannelWriter<(int, GenerationOutput)> writer)
    {
        try
        {
            for (bool more = await first.ConfigureAwait(false); more; more = await stream.MoveNextAsync().ConfigureAwait(false))
                writer.TryWrite((prompt, stream.Current));
        }
        finally { await stream.DisposeAsync().ConfigureAwait(false); }
    }
}
