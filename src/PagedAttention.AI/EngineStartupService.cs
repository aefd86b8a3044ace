using Microsoft.Extensions.Hosting;

namespace PagedAttention.AI;

/// <summary>
/// Loads a registration's engine while the host starts, unless its options say <c>LoadOnStart = false</c>: a wrong
/// model fails <c>host.StartAsync</c> with the loader's message (which names the paths tried), and the first request
/// does not pay for the load.
/// </summary>
internal sealed class EngineStartupService(EngineHost host, Func<bool> loadOnStart) : IHostedService
{
    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) =>
        loadOnStart() ? host.LoadAsync().WaitAsync(cancellationToken) : Task.CompletedTask;

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask; // the container disposes the engine
}
