using System.Text.Json;

namespace PagedAttention.Tests.Server;

/// <summary>
/// The wire format over raw HTTP, where the SDKs would hide it: SSE framing of chat chunks (role first, usage chunk
/// with <c>choices: []</c>, [DONE]), streamed tool-call deltas, and /v1/completions with its prompt shapes.
/// </summary>
public sealed class WireFormatTests : IAsyncLifetime
{
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static async Task<List<JsonElement>> Stream(ServerHost server, string path, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = ServerHost.Json(body) };
        using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await ServerHost.ReadEventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        return events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement.Clone()).ToList();
    }

    [Fact]
    public async Task ChatStream_RoleFirstPerChoice_ThenDeltas_FinishReason_UsageChunk_Done()
    {
        var chunks = await Stream(_server, "/v1/chat/completions", ServerHost.Chat("The jury said", 6,
            "\"n\":2,\"seed\":1,\"temperature\":1,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true},\"logprobs\":true,\"top_logprobs\":2"));
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        var usage = chunks[^1];
        Assert.Empty(usage.GetProperty("choices").EnumerateArray());
        Assert.Equal(12, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.All(chunks.SkipLast(1), c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
        for (int i = 0; i < 2; i++)
        {
            var mine = chunks.SkipLast(1).Select(c => c.GetProperty("choices")[0]).Where(c => c.GetProperty("index").GetInt32() == i).ToList();
            Assert.Equal("assistant", mine[0].GetProperty("delta").GetProperty("role").GetString());
            Assert.DoesNotContain(mine.Skip(1), c => c.GetProperty("delta").TryGetProperty("role", out _));
            Assert.Equal("length", mine[^1].GetProperty("finish_reason").GetString());
            Assert.All(mine.SkipLast(1), c => Assert.Equal(JsonValueKind.Null, c.GetProperty("finish_reason").ValueKind));
            int logprobs = mine.Where(c => c.GetProperty("logprobs").ValueKind == JsonValueKind.Object).Sum(c => c.GetProperty("logprobs").GetProperty("content").GetArrayLength());
            Assert.Equal(6, logprobs);
        }
    }

    [Fact]
    public async Task BeamWidth_WithN_ReturnsTheNBestBeams_AsTheEngineRanksThem()
    {
        var (status, body, _) = await _server.PostAsync("/v1/chat/completions",
            ServerHost.Chat("The jury said", 6, "\"n\":2,\"beam_width\":4,\"ignore_eos\":true"));
        Assert.Equal(200, status);
        var choices = body!.Value.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal(2, choices.Count);
        // The same request on the engine: the prompt the server rendered is the chat client's.
        using var client = new PagedAttention.AI.PagedAttentionChatClient(_server.Engine);
        var chat = client.Prepare([new Microsoft.Extensions.AI.ChatMessage(Microsoft.Extensions.AI.ChatRole.User, "The jury said")],
            new Microsoft.Extensions.AI.ChatOptions { MaxOutputTokens = 6, Temperature = 0, AdditionalProperties = new() { ["beam_width"] = 4, ["ignore_eos"] = true } }, 2, default);
        var beams = await _server.Engine.BeamSearchAsync(chat.PromptIds, chat.Sampling);
        var tok = _server.Engine.Tokenizer!;
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(i, choices[i].GetProperty("index").GetInt32());
            Assert.Equal(tok.Decode(beams[i].TokenIds.ToArray()), choices[i].GetProperty("message").GetProperty("content").GetString());
        }
        Assert.NotEqual(choices[0].GetProperty("message").GetProperty("content").GetString(), choices[1].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(12, body.Value.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        var (bad, error, _) = await _server.PostAsync("/v1/chat/completions", ServerHost.Chat("The jury said", 6, "\"n\":3,\"beam_width\":2"));
        Assert.Equal(400, bad);
        Assert.Contains("BeamWidth", error!.Value.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task StreamedToolCall_IndexIdTypeName_ThenArguments_FinishReasonToolCalls()
    {
        string dir = OpenAIClientTests.ToolTemplateModel();
        try
        {
            await using var server = await ServerHost.StartAsync(ServerHost.DefaultEngine().WithModel(dir));
            string model = Path.GetFileName(dir);
            string body = $$"""{"model":"{{model}}","messages":[{"role":"user","content":"Forecast for three days?"}],"max_tokens":200,"temperature":0,"stream":true,""" +
                """ "tools":[{"type":"function","function":{"name":"get_forecast","description":"Gets the forecast.","parameters":{"type":"object","properties":{"days":{"type":"integer"}},"required":["days"]}}}],""" +
                """ "tool_choice":"required"}""";
            var chunks = await Stream(server, "/v1/chat/completions", body);
            var deltas = chunks.Select(c => c.GetProperty("choices")[0]).ToList();
            var calls = deltas.Where(d => d.GetProperty("delta").TryGetProperty("tool_calls", out _)).Select(d => d.GetProperty("delta").GetProperty("tool_calls")[0]).ToList();
            Assert.Equal(2, calls.Count);
            Assert.Equal(0, calls[0].GetProperty("index").GetInt32());
            Assert.False(string.IsNullOrEmpty(calls[0].GetProperty("id").GetString()));
            Assert.Equal("function", calls[0].GetProperty("type").GetString());
            Assert.Equal("get_forecast", calls[0].GetProperty("function").GetProperty("name").GetString());
            Assert.False(calls[1].TryGetProperty("id", out _));
            var args = JsonDocument.Parse(string.Concat(calls.Select(c => c.GetProperty("function").GetProperty("arguments").GetString()))).RootElement;
            Assert.Equal(JsonValueKind.Number, args.GetProperty("days").ValueKind);
            Assert.Equal("tool_calls", deltas[^1].GetProperty("finish_reason").GetString());
            Assert.DoesNotContain(deltas, d => d.GetProperty("delta").TryGetProperty("content", out var c) && c.GetString()!.Contains("<tool_call>"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task Completions_TakeStringsListsAndTokenIds()
    {
        var (s1, one, _) = await _server.PostAsync("/v1/completions", """{"model":"default","prompt":"The jury said","max_tokens":5,"temperature":0,"ignore_eos":true,"logprobs":2}""");
        Assert.Equal(200, s1);
        Assert.Equal("text_completion", one!.Value.GetProperty("object").GetString());
        var c0 = one.Value.GetProperty("choices")[0];
        Assert.Equal("length", c0.GetProperty("finish_reason").GetString());
        Assert.Equal(c0.GetProperty("text").GetString(), string.Concat(c0.GetProperty("logprobs").GetProperty("tokens").EnumerateArray().Select(t => t.GetString())));
        Assert.Equal(5, c0.GetProperty("logprobs").GetProperty("token_logprobs").GetArrayLength());

        // The same prompt as token ids gives the same text; two prompts x n = 2 give four choices, indexed prompt-major.
        var ids = _server.Engine.Tokenizer!.Encode("The jury said", addSpecialTokens: true);
        var (s2, fromIds, _) = await _server.PostAsync("/v1/completions", $$"""{"model":"default","prompt":{{JsonSerializer.Serialize(ids)}},"max_tokens":5,"temperature":0,"ignore_eos":true}""");
        Assert.Equal(200, s2);
        Assert.Equal(c0.GetProperty("text").GetString(), fromIds!.Value.GetProperty("choices")[0].GetProperty("text").GetString());
        var (s3, many, _) = await _server.PostAsync("/v1/completions", """{"model":"default","prompt":["The jury said","Once upon"],"n":2,"max_tokens":3,"temperature":0,"ignore_eos":true}""");
        Assert.Equal(200, s3);
        var choices = many!.Value.GetProperty("choices").EnumerateArray().OrderBy(c => c.GetProperty("index").GetInt32()).ToArray();
        Assert.Equal(4, choices.Length);
        Assert.Equal(c0.GetProperty("text").GetString()![..choices[0].GetProperty("text").GetString()!.Length], choices[0].GetProperty("text").GetString());
        Assert.Equal(choices[2].GetProperty("text").GetString(), choices[3].GetProperty("text").GetString()); // greedy: both samples of prompt 1 agree
        Assert.Equal(12, many.Value.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        var streamed = await Stream(_server, "/v1/completions", """{"model":"default","prompt":"The jury said","max_tokens":5,"temperature":0,"ignore_eos":true,"stream":true,"echo":true}""");
        string text = string.Concat(streamed.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal("The jury said" + c0.GetProperty("text").GetString(), text);
    }
}
