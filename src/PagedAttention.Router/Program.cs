// The router: a YARP reverse proxy in front of several PagedAttention.Server replicas (docs/router.md).
//   dotnet run --project src/PagedAttention.Router -- --replicas http://127.0.0.1:8001,http://127.0.0.1:8002
// Options: appsettings.json, environment (Router__Policy=RoundRobin), command line (--Router:LoadFactor=0.5).
using PagedAttention.Router;

var app = RouterApplication.Create(args);
await app.RunAsync().ConfigureAwait(false);
