using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace PagedAttention.Tests.Server;

/// <summary>
/// Every bad input of issue 15 (item 7) against a real server: the documented status, OpenAI's JSON error object, and a
/// healthy server afterwards (/health 200 and a request that completes). One server for all cases.
/// </summary>
public sealed class BadInputTests : IAsyncLifetime
{
    // The served model's context (the default model's max_position_embeddings), so the cases follow the model.
    private static readonly int MaxLen = PagedAttention.AI.Models.ModelConfig.Load(PagedAttention.Tests.Chat.ChatClientTests.DefaultModel).MaxPositionEmbeddings;

    private const string Chat = "/v1/chat/completions";
    private const string Completions = "/v1/completions";
    private const int BodyLimit = 1 << 20; // lowered from 4 MiB so the over-limit case stays small
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.StartAsync(configure: o => o.MaxRequestBodyBytes = BodyLimit);

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static string Msgs(string messages, string extra = "") => $$"""{"model":"default","messages":{{messages}}{{(extra.Length > 0 ? "," + extra : "")}}}""";

    private static string WithField(string field) => ServerHost.Chat("Hello", 4, field);

    public static TheoryData<string, string, string, int> Cases() => new()
    {
        // name, path, body, status
        { "empty body", Chat, "", 400 },
        { "not JSON", Chat, "hello", 400 },
        { "truncated JSON", Chat, """{"model":"default","messages":[{"role":"user","con""", 400 },
        { "10,000-deep nesting", Chat, """{"model":"default","messages":""" + new string('[', 10_000) + new string(']', 10_000) + "}", 400 },
        { "root not an object", Chat, "[1,2]", 400 },
        { "missing model", Chat, """{"messages":[{"role":"user","content":"Hi"}]}""", 400 },
        { "unknown model", Chat, """{"model":"gpt-17","messages":[{"role":"user","content":"Hi"}]}""", 404 },
        { "missing messages", Chat, """{"model":"default"}""", 400 },
        { "empty messages", Chat, Msgs("[]"), 400 },
        { "unknown role", Chat, Msgs("""[{"role":"wizard","content":"Hi"}]"""), 400 },
        { "content a number", Chat, Msgs("""[{"role":"user","content":42}]"""), 400 },
        { "content part without text", Chat, Msgs("""[{"role":"user","content":[{"type":"text"}]}]"""), 400 },
        { "image part", Chat, Msgs("""[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x/y.png"}}]}]"""), 400 },
        { "tool message without tool_call_id", Chat, Msgs("""[{"role":"user","content":"Hi"},{"role":"tool","content":"42"}]"""), 400 },
        { "lone surrogate", Chat, Msgs("""[{"role":"user","content":"a\ud800b"}]"""), 400 },
        { "prompt + max_tokens over the context", Chat, ServerHost.Chat("Hello", MaxLen - 1), 400 },
        { "max_tokens 0", Chat, ServerHost.Chat("Hello", 0), 400 },
        { "max_tokens -1", Chat, ServerHost.Chat("Hello", -1), 400 },
        { "max_tokens 2^31", Chat, """{"model":"default","messages":[{"role":"user","content":"Hi"}],"max_tokens":2147483648}""", 400 },
        { "max_completion_tokens 2^31-1 over the context", Chat, """{"model":"default","messages":[{"role":"user","content":"Hi"}],"max_completion_tokens":2147483647}""", 400 },
        { "temperature -1", Chat, WithField("\"temperature\":-1"), 400 },
        { "temperature NaN", Chat, """{"model":"default","messages":[{"role":"user","content":"Hi"}],"temperature":NaN}""", 400 },
        { "temperature \"NaN\"", Chat, """{"model":"default","messages":[{"role":"user","content":"Hi"}],"temperature":"NaN"}""", 400 },
        { "temperature 1e9", Chat, """{"model":"default","messages":[{"role":"user","content":"Hi"}],"temperature":1e9}""", 400 },
        { "top_p 0", Chat, WithField("\"top_p\":0"), 400 },
        { "top_p 1.5", Chat, WithField("\"top_p\":1.5"), 400 },
        { "top_k -2", Chat, WithField("\"top_k\":-2"), 400 },
        { "n 0", Chat, WithField("\"n\":0"), 400 },
        { "n 10^6", Chat, WithField("\"n\":1000000"), 400 },
        { "top_logprobs 21", Chat, WithField("\"logprobs\":true,\"top_logprobs\":21"), 400 },
        { "top_logprobs without logprobs", Chat, WithField("\"top_logprobs\":2"), 400 },
        { "5 stop strings", Chat, WithField("\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]"), 400 },
        { "empty stop string", Chat, WithField("\"stop\":[\"\"]"), 400 },
        { "100 KB stop string", Chat, WithField("\"stop\":\"" + new string('x', 100_000) + "\""), 400 },
        { "stream_options without stream", Chat, WithField("\"stream_options\":{\"include_usage\":true}"), 400 },
        { "tools not a list", Chat, WithField("\"tools\":\"get_weather\""), 400 },
        { "tool without function", Chat, WithField("\"tools\":[{\"type\":\"function\"}]"), 400 },
        { "tool name with spaces", Chat, WithField("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get weather\"}}]"), 400 },
        { "tool parameters not an object", Chat, WithField("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":3}}]"), 400 },
        { "tool_choice names an unknown function", Chat, WithField("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}}"), 400 },
        { "tool_choice required without tools", Chat, WithField("\"tool_choice\":\"required\""), 400 },
        { "response_format unknown type", Chat, WithField("\"response_format\":{\"type\":\"yaml\"}"), 400 },
        { "json_schema without schema", Chat, WithField("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\"}}"), 400 },
        { "seed 2^64", Chat, WithField("\"seed\":18446744073709551616"), 400 },
        { "seed a fraction", Chat, WithField("\"seed\":1.5"), 400 },
        { "presence_penalty 3", Chat, WithField("\"presence_penalty\":3"), 400 },
        { "stream not a bool", Chat, WithField("\"stream\":\"yes\""), 400 },
        { "completions: prompt token id -1", Completions, """{"model":"default","prompt":[1,2,-1]}""", 400 },
        { "completions: prompt token id >= vocab", Completions, """{"model":"default","prompt":[1,2,100000000]}""", 400 },
        { "completions: empty prompt list", Completions, """{"model":"default","prompt":[]}""", 400 },
        { "completions: missing prompt", Completions, """{"model":"default"}""", 400 },
        { "completions: suffix", Completions, """{"model":"default","prompt":"a","suffix":"b"}""", 400 },
        { "completions: logprobs 21", Completions, """{"model":"default","prompt":"a","logprobs":21}""", 400 },
        { "completions: unknown model", Completions, """{"model":"nope","prompt":"a"}""", 404 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadRequest_GetsItsStatusAndAnErrorObject_AndTheServerStaysHealthy(string name, string path, string body, int status)
    {
        var (actual, json, _) = await _server.PostAsync(path, body);
        Assert.True(status == actual, $"{name}: expected {status}, got {actual}: {json}");
        AssertError(json, name);
        await _server.AssertHealthyAsync();
    }

    internal static void AssertError(JsonElement? json, string name)
    {
        Assert.True(json is { ValueKind: JsonValueKind.Object }, $"{name}: no JSON error body");
        var error = json!.Value.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()), name);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("type").GetString()), name);
        Assert.True(error.TryGetProperty("param", out _) && error.TryGetProperty("code", out _), $"{name}: param and code are part of the error object");
    }

    [Fact]
    public async Task PromptOverTheContext_Is400_WithTheLengths()
    {
        var (status, json, _) = await _server.PostAsync(Chat, ServerHost.Chat(string.Join(" ", Enumerable.Repeat("river", 2 * MaxLen)), 4));
        Assert.Equal(400, status);
        AssertError(json, "prompt over the context");
        string message = json!.Value.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains($"maximum context length is {MaxLen} tokens", message);
        Assert.Equal("context_length_exceeded", json.Value.GetProperty("error").GetProperty("code").GetString());
        await _server.AssertHealthyAsync();
    }

    [Fact]
    public async Task WrongContentType_Is415()
    {
        var response = await _server.Http.PostAsync(Chat, new StringContent(ServerHost.Chat("Hi"), Encoding.UTF8, "text/plain"));
        Assert.Equal(415, (int)response.StatusCode);
        AssertError(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, "wrong content type");
        var form = await _server.Http.PostAsync(Chat, new FormUrlEncodedContent([new("model", "default")]));
        Assert.Equal(415, (int)form.StatusCode);
        await _server.AssertHealthyAsync();
    }

    [Fact]
    public async Task InvalidUtf8_Is400()
    {
        byte[] head = Encoding.UTF8.GetBytes("""{"model":"default","messages":[{"role":"user","content":"a""");
        byte[] tail = Encoding.UTF8.GetBytes("""b"}]}""");
        var content = new ByteArrayContent([.. head, 0xC3, 0x28, 0xFF, .. tail]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var response = await _server.Http.PostAsync(Chat, content);
        Assert.Equal(400, (int)response.StatusCode);
        AssertError(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, "invalid UTF-8");
        await _server.AssertHealthyAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task BodyOverTheLimit_Is413(bool withContentLength)
    {
        string body = WithField("\"user\":\"" + new string('x', BodyLimit + 1000) + "\"");
        HttpContent content = withContentLength ? ServerHost.Json(body) : new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body)));
        if (!withContentLength) content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var response = await _server.Http.PostAsync(Chat, content);
        Assert.Equal(413, (int)response.StatusCode);
        AssertError(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, "body over the limit");
        await _server.AssertHealthyAsync();
    }

    [Fact]
    public async Task NulBytes_AreText()
    {
        var (status, json, _) = await _server.PostAsync(Chat, ServerHost.Chat("a\u0000b\u0000", 2));
        Assert.Equal(200, status);
        Assert.Equal("chat.completion", json!.Value.GetProperty("object").GetString());
        await _server.AssertHealthyAsync();
    }

    [Fact]
    public async Task SpecialTokenText_IsTokenisedAsPlainText()
    {
        // "<|user|>" is one special token of the default model; inside a message it must stay text (several tokens).
        int Prompt(JsonElement? j) => j!.Value.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        var (s1, plain, _) = await _server.PostAsync(Chat, ServerHost.Chat("x", 1));
        var (s2, special, _) = await _server.PostAsync(Chat, ServerHost.Chat("x<|user|>", 1));
        Assert.Equal(200, s1);
        Assert.Equal(200, s2);
        var tokenizer = _server.Engine.Tokenizer!;
        int asText = tokenizer.Encode("<|user|>", addSpecialTokens: false, [(0, "<|user|>".Length)]).Length;
        Assert.True(asText > 1, "the plain-text encoding of <|user|> has several tokens");
        Assert.Equal(Prompt(plain) + asText, Prompt(special));
        await _server.AssertHealthyAsync();
    }
}
