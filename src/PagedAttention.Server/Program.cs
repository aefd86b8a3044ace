using Microsoft.AspNetCore.Server.Kestrel.Core;
using PagedAttention.AI.Engine;
using PagedAttention.Server;

// dotnet run --project src/PagedAttention.Server -- --model DIR [--device cuda] [--port 8000] [--host 127.0.0.1]
// Every option is also configuration: appsettings.json, environment (PagedAttention__MaxNumSeqs, Server__MaxN), command
// line (--PagedAttention:MaxNumSeqs=64, --Server:ApiKeys:0:Key=...). docs/server.md lists them.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Configuration.AddCommandLine(args, new Dictionary<string, string>
{
    ["--model"] = "PagedAttention:ModelPath",
    ["--device"] = "PagedAttention:Device",
    ["--host"] = "Host",
    ["--port"] = "Port",
    ["--served-model-name"] = "Server:ModelId",
});
var config = builder.Configuration;
string host = config["Host"] ?? "127.0.0.1";
int port = config.GetValue("Port", 8000);
var serverSection = config.GetSection(OpenAIServerOptions.SectionName);
long maxBody = serverSection.GetValue(nameof(OpenAIServerOptions.MaxRequestBodyBytes), 4L << 20);
if (config["urls"] is null && config["ASPNETCORE_URLS"] is null) builder.WebHost.UseUrls($"http://{host}:{port}");
builder.WebHost.ConfigureKestrel(k =>
{
    k.AddServerHeader = false;
    k.Limits.MaxRequestBodySize = maxBody;
    k.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
    k.Limits.MaxRequestHeaderCount = 64;
    k.Limits.MaxRequestLineSize = 8 * 1024;
    k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(30);
    k.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(2);
    k.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(10));
});

builder.Services.AddPagedAttention(config.GetSection("PagedAttention"));
builder.Services.AddOpenAIServer(serverSection);

var app = builder.Build();
app.MapOpenAIEndpoints();
app.Run();
