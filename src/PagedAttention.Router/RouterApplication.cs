using PagedAttention.Router.Configuration;
using PagedAttention.Router.Health;
using PagedAttention.Router.Routing;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Transforms;

namespace PagedAttention.Router;

/// <summary>
/// Builds the router: a YARP reverse proxy whose one cluster holds the configured replicas, routing <c>/v1/*</c> by
/// the configured policy, with active (<c>/health</c>) and passive health checks, and its own <c>/health</c> and
/// <c>/router/replicas</c>. Program.cs runs it; tests and bench/ScaleOut build it in-process.
/// </summary>
internal static class RouterApplication
{
    /// <summary>The response header that names the replica which served a request.</summary>
    public const string ReplicaHeader = "x-router-replica";

    /// <summary>The default listen address (the servers default to 8000).</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";

    private static readonly Dictionary<string, string> Switches = new(StringComparer.OrdinalIgnoreCase)
    {
        ["--replicas"] = "Router:Replicas",
        ["--policy"] = "Router:Policy",
        ["--load-factor"] = "Router:LoadFactor",
    };

    /// <summary>Builds the application from command-line <paramref name="args"/> (and appsettings.json, environment).</summary>
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddCommandLine(args, Switches);
        configure?.Invoke(builder);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        var options = ReadOptions(builder.Configuration);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<ReplicaStats>();
        builder.Services.AddSingleton<ILoadBalancingPolicy, PrefixAffinityPolicy>();
        builder.Services.AddSingleton<IPassiveHealthCheckPolicy, ReplicaFailurePolicy>();
        builder.Services.AddReverseProxy()
            .LoadFromMemory([Route()], [Cluster(options)])
            .AddTransforms(context => context.AddResponseTransform(transform =>
            {
                if (transform.HttpContext.GetReverseProxyFeature().ProxiedDestination is { } destination && !transform.HttpContext.Response.HasStarted)
                {
                    transform.HttpContext.Response.Headers[ReplicaHeader] = destination.DestinationId;
                }

                return ValueTask.CompletedTask;
            }));

        var app = builder.Build();
        app.MapRouterStatus();
        app.MapReverseProxy(pipeline =>
        {
            pipeline.UseMiddleware<RequestBodyPrefixMiddleware>();
            pipeline.UseMiddleware<ConnectFailureRetryMiddleware>();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        });

        app.Lifetime.ApplicationStarted.Register(() => app.Logger.LogInformation(
            "Router on {Urls}: {Count} replicas ({Replicas}), policy {Policy}, load factor {LoadFactor}, prefix {PrefixBytes} bytes, health probe every {Interval}.",
            string.Join(", ", app.Urls), options.Replicas.Count, string.Join(", ", options.Replicas), options.Policy, options.LoadFactor,
            options.PrefixBytes, options.HealthCheckInterval));
        return app;
    }

    /// <summary>Binds and validates the <c>Router</c> section; <c>Replicas</c> may be a list or one comma-separated value.</summary>
    internal static RouterOptions ReadOptions(IConfiguration configuration)
    {
        var section = configuration.GetSection(RouterOptions.SectionName);
        var options = new RouterOptions();
        section.Bind(options, o => o.ErrorOnUnknownConfiguration = false);
        var replicas = section.GetSection(nameof(RouterOptions.Replicas));
        options.Replicas = !string.IsNullOrWhiteSpace(replicas.Value)
            ? [.. replicas.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]
            : [.. replicas.GetChildren().Select(c => c.Value).Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!.Trim())];
        options.Validate();
        return options;
    }

    private static RouteConfig Route() => new()
    {
        RouteId = "openai",
        ClusterId = RouterStatusEndpoints.ClusterId,
        Match = new RouteMatch { Path = "/v1/{**rest}" },
    };

    private static ClusterConfig Cluster(RouterOptions options) => new()
    {
        ClusterId = RouterStatusEndpoints.ClusterId,
        LoadBalancingPolicy = options.Policy,
        Destinations = options.Replicas
            .Select((address, i) => (Id: $"r{i}", Address: address))
            .ToDictionary(r => r.Id, r => new DestinationConfig { Address = r.Address }),
        HealthCheck = new HealthCheckConfig
        {
            // Not YARP's default HealthyOrPanic: with every replica down the router answers 503 at once instead of
            // trying dead ones.
            AvailableDestinationsPolicy = HealthCheckConstants.AvailableDestinations.HealthyAndUnknown,
            Active = new ActiveHealthCheckConfig
            {
                Enabled = true,
                Interval = options.HealthCheckInterval,
                Timeout = options.HealthCheckTimeout,
                Policy = HealthCheckConstants.ActivePolicy.ConsecutiveFailures,
                Path = "/health",
            },
            Passive = new PassiveHealthCheckConfig
            {
                Enabled = true,
                Policy = ReplicaFailurePolicy.PolicyName,
                ReactivationPeriod = options.ReactivationPeriod,
            },
        },
        Metadata = new Dictionary<string, string>
        {
            ["ConsecutiveFailuresHealthPolicy.Threshold"] = options.HealthCheckFailureThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture),
        },
        HttpRequest = new ForwarderRequestConfig { ActivityTimeout = options.ActivityTimeout },
    };
}
