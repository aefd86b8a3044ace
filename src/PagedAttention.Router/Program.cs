// The router: a YARP reverse proxy in front of several PagedAttention.Server replicas (docs/router.md).
//   dotnet run --project src/PagedAttention.Router -- --replicas http://127.0.0.1:8001,http://127.0.0.1:8002
// Options: appsettings.json, environment (Router__Policy=RoundRobin), command line (--Router:LoadFactor=0.5).
using PagedAttention.Router;

WebApplication app;
try
{
    app = RouterApplication.Create(args);
}
catch (InvalidOperationException e)
{
    // A configuration error (RouterOptions.Validate): say what is wrong, without a stack trace.
    Console.Error.WriteLine($"PagedAttention.Router: {e.Message}");
    return 2;
}

await app.RunAsync().ConfigureAwait(false);
return 0;
