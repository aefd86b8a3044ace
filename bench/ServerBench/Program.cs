// HTTP overhead of the OpenAI server (issue 15, item 10): the same requests, all submitted at once, directly through
// the IChatClient and through the server (SSE over loopback, in-process Kestrel, the same engine), alternating, in
// one run. Reports output tok/s of each and their ratio (target >= 0.9). Every request generates exactly
// --max-tokens tokens (ignore_eos), greedy; each phase has its own prefix-cache salt, so neither warms the other.
//   dotnet run -c Release --project bench/ServerBench -- [--model DIR] [--device cpu|cuda] [--requests 256] [--max-tokens 64]
//       [--rounds 2] [--max-num-seqs 256] [--gpu-memory-utilization 0.9] [--output result.json]
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PagedAttention.AI;
using PagedAttention.AI.Engine;

var a = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2) a[args[i].TrimStart('-')] = args[i + 1];
string Arg(string k, string d) => a.TryGetValue(k, out var v) ? v : d;
int requests = int.Parse(Arg("requests", "256"), CultureInfo.InvariantCulture);
int maxTokens = int.Parse(Arg("max-tokens", "64"), CultureInfo.InvariantCulture);
int rounds = int.Parse(Arg("rounds", "2"), CultureInfo.InvariantCulture);
var options = new EngineOptions
{
    ModelPath = Arg("model", ""),
    Device = Arg("device", "cpu"),
    MaxNumSeqs = int.Parse(Arg("max-num-seqs", "256"), CultureInfo.InvariantCulture),
    MaxNumBatchedTokens = int.Parse(Arg("max-num-batched-tokens", "8192"), CultureInfo.InvariantCulture),
    GpuMemoryUtilization = double.Parse(Arg("gpu-memory-utilization", "0.9"), CultureInfo.InvariantCulture),
    StatsLogInterval = TimeSpan.Zero,
};
if (a.TryGetValue("kv-blocks", out var kb)) options.NumKvBlocks = int.Parse(kb, CultureInfo.InvariantCulture);

var load = Stopwatch.StartNew();
await using var engine = await LlmEngine.LoadAsync(options);
var chat = new PagedAttentionChatClient(engine);
Console.WriteLine($"loaded {(options.ModelPath.Length == 0 ? "the default model" : options.ModelPath)} on {engine.Device} in {load.Elapsed.TotalSeconds:F1} s; {engine.NumKvBlocks} KV blocks; max seqs {options.MaxNumSeqs}; {Environment.ProcessorCount} cores");

var builder = WebApplication.CreateSlimBuilder();
builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
builder.Logging.ClearProviders();
builder.Services.AddSingleton(engine);
builder.Services.AddSingleton<IChatClient>(chat);
builder.Services.AddOpenAIServer(o => { o.MaxWaitingRequests = requests * 2; o.MaxN = 1; });
var app = builder.Build();
app.MapOpenAIEndpoints();
await app.StartAsync();
var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = Timeout.InfiniteTimeSpan }) { BaseAddress = address, Timeout = TimeSpan.FromMinutes(30) };
string model = JsonDocument.Parse(await http.GetStringAsync("/v1/models")).RootElement.GetProperty("data")[0].GetProperty("id").GetString()!;

var topics = new[] { "the river", "the council", "the old bridge", "the harvest", "the storm", "the market", "the library", "the mountain pass" };
string Prompt(int i) => $"Request {i}: write a short report about {topics[i % topics.Length]} and what happened there in year {1800 + i}.";

async Task<(double Seconds, long Tokens, double MeanTtft)> Direct(string salt)
{
    var sw = Stopwatch.StartNew();
    var ttft = new double[requests];
    var counts = await Task.WhenAll(Enumerable.Range(0, requests).Select(async i =>
    {
        var o = new ChatOptions { Temperature = 0, MaxOutputTokens = maxTokens, AdditionalProperties = new() { ["ignore_eos"] = true, ["cache_salt"] = salt } };
        long t0 = Stopwatch.GetTimestamp();
        long tokens = 0;
        bool first = true;
        await foreach (var u in chat.GetStreamingResponseAsync(Prompt(i), o))
        {
            if (first && u.Text.Length > 0) { ttft[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds; first = false; }
            foreach (var c in u.Contents) if (c is UsageContent usage) tokens = usage.Details.OutputTokenCount ?? 0;
        }
        return tokens;
    }));
    return (sw.Elapsed.TotalSeconds, counts.Sum(), ttft.Average());
}

async Task<(double Seconds, long Tokens, double MeanTtft)> Server(string salt)
{
    var sw = Stopwatch.StartNew();
    var ttft = new double[requests];
    var counts = await Task.WhenAll(Enumerable.Range(0, requests).Select(async i =>
    {
        string body = $$"""{"model":{{JsonSerializer.Serialize(model)}},"messages":[{"role":"user","content":{{JsonSerializer.Serialize(Prompt(i))}}}],"max_tokens":{{maxTokens}},"temperature":0,"ignore_eos":true,"cache_salt":{{JsonSerializer.Serialize(salt)}},"stream":true,"stream_options":{"include_usage":true}""" + "}";
        long t0 = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        long tokens = 0;
        bool first = true;
        string? line;
        while ((line = await reader.ReadLineAsync()) is not null)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            var data = line.AsSpan(6);
            if (data.SequenceEqual("[DONE]")) break;
            if (first && data.IndexOf("\"content\":\"") is int c && c >= 0 && data[(c + 11)..].Length > 0 && data[c + 11] != '"') { ttft[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds; first = false; }
            if (data.IndexOf("\"usage\":{") >= 0)
                tokens = JsonDocument.Parse(line[6..]).RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt64();
        }
        return tokens;
    }));
    return (sw.Elapsed.TotalSeconds, counts.Sum(), ttft.Average());
}

// Warm-up: JIT, template, thread pool, connections.
await Direct("warm-direct");
await Server("warm-server");
var results = new JsonArray();
double bestDirect = 0, bestServer = 0;
for (int r = 0; r < rounds; r++)
{
    foreach (var (name, run) in new (string, Func<string, Task<(double, long, double)>>)[] { ("direct", Direct), ("server", Server) })
    {
        var (seconds, tokens, ttft) = await run($"{name}-{r}");
        double tps = tokens / seconds;
        if (name == "direct") bestDirect = Math.Max(bestDirect, tps); else bestServer = Math.Max(bestServer, tps);
        Console.WriteLine($"round {r} {name,-6}: {requests} requests, {tokens} output tokens in {seconds:F2} s = {tps:F0} tok/s; mean TTFT {ttft * 1000:F0} ms");
        results.Add(new JsonObject { ["round"] = r, ["path"] = name, ["requests"] = requests, ["output_tokens"] = tokens, ["seconds"] = seconds, ["output_tok_s"] = tps, ["mean_ttft_s"] = ttft });
        if (tokens != (long)requests * maxTokens) throw new InvalidOperationException($"{name}: expected {requests * maxTokens} tokens, got {tokens}");
    }
}
double ratio = bestServer / bestDirect;
Console.WriteLine($"server / direct output tok/s (best of {rounds} rounds each): {bestServer:F0} / {bestDirect:F0} = {ratio:F3} (target >= 0.9)");
if (a.TryGetValue("output", out var path))
    File.WriteAllText(path, new JsonObject
    {
        ["device"] = engine.Device, ["model"] = options.ModelPath, ["requests"] = requests, ["max_tokens"] = maxTokens, ["cores"] = Environment.ProcessorCount,
        ["runs"] = results, ["best_direct_tok_s"] = bestDirect, ["best_server_tok_s"] = bestServer, ["ratio"] = ratio,
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
await app.StopAsync();
return ratio >= 0.9 ? 0 : 1;
