using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace PagedAttention.Bench.ScaleOut;

/// <summary>What one streamed request measured.</summary>
internal sealed record RequestResult(int Index, int Group, bool Ok, string? Replica, int PromptTokens, int CachedTokens,
    int CompletionTokens, double TtftMs, double LatencyMs, string? Error, double StartedMs);

/// <summary>Sends one chat completion with <c>stream: true</c> and usage, and reads the SSE stream to the end.</summary>
internal sealed class ChatStreamClient(HttpClient http, string model, int maxTokens)
{
    public async Task<RequestResult> SendAsync(AgentRequest request, Stopwatch clock, CancellationToken cancellationToken)
    {
        var started = clock.Elapsed.TotalMilliseconds;
        var body = JsonSerializer.Serialize(new
        {
            model,
            messages = new object[] { new { role = "system", content = request.System }, new { role = "user", content = request.User } },
            max_tokens = maxTokens,
            temperature = 0,
            ignore_eos = true,
            stream = true,
            stream_options = new { include_usage = true },
        });
        string? replica = null;
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            replica = response.Headers.TryGetValues("x-router-replica", out var values) ? values.FirstOrDefault() : null;
            if (!response.IsSuccessStatusCode)
            {
                var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                return Fail($"HTTP {(int)response.StatusCode}: {text[..Math.Min(200, text.Length)]}");
            }

            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
            double ttft = -1;
            int prompt = 0, cached = 0, completion = 0;
            var done = false;
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    continue;
                }

                var data = line.AsSpan(6);
                if (data.SequenceEqual("[DONE]"))
                {
                    done = true;
                    break;
                }

                using var chunk = JsonDocument.Parse(data.ToString());
                var root = chunk.RootElement;
                if (root.TryGetProperty("error", out var error))
                {
                    return Fail($"error event: {error}");
                }

                if (ttft < 0 && root.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0 &&
                    choices[0].TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var content) &&
                    content.ValueKind == JsonValueKind.String && content.GetString()!.Length > 0)
                {
                    ttft = clock.Elapsed.TotalMilliseconds - started;
                }

                if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                {
                    prompt = usage.GetProperty("prompt_tokens").GetInt32();
                    completion = usage.GetProperty("completion_tokens").GetInt32();
                    if (usage.TryGetProperty("prompt_tokens_details", out var details) && details.ValueKind == JsonValueKind.Object &&
                        details.TryGetProperty("cached_tokens", out var c))
                    {
                        cached = c.GetInt32();
                    }
                }
            }

            if (!done)
            {
                return Fail("stream ended without [DONE]");
            }

            return new RequestResult(request.Index, request.Group, true, replica, prompt, cached, completion,
                ttft < 0 ? clock.Elapsed.TotalMilliseconds - started : ttft, clock.Elapsed.TotalMilliseconds - started, null, started);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or OperationCanceledException)
        {
            return Fail($"{e.GetType().Name}: {e.Message}");
        }

        RequestResult Fail(string error) =>
            new(request.Index, request.Group, false, replica, 0, 0, 0, 0, clock.Elapsed.TotalMilliseconds - started, error, started);
    }
}
