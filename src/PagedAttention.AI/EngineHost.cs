using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using PagedAttention.AI.Engine;

namespace PagedAttention.AI;

/// <summary>
/// One DI registration's engine: loads it once — at host start (<see cref="EngineStartupService"/>) or on first use —
/// and remembers the outcome. A failed load is kept, not retried on every request: each resolution rethrows the same
/// exception, and the health check reports it.
/// </summary>
internal sealed class EngineHost : IAsyncDisposable, IDisposable
{
    private readonly Func<EngineOptions> _options;
    private readonly ILoggerFactory? _loggers;
    private readonly object _gate = new();
    private Task<LlmEngine>? _load;

    /// <param name="name">The registration's name in logs and health reports ("" for the unkeyed one).</param>
    /// <param name="options">Reads the options when the load starts (so they are validated then, not at registration).</param>
    /// <param name="loggers">Gives the engine a logger when the options have none.</param>
    public EngineHost(string name, Func<EngineOptions> options, ILoggerFactory? loggers)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(options);
        Name = name;
        _options = options;
        _loggers = loggers;
    }

    /// <summary>The registration's name ("" for the unkeyed one).</summary>
    public string Name { get; }

    /// <summary>The load, once started; null while nothing asked for the engine.</summary>
    public Task<LlmEngine>? Load { get { lock (_gate) return _load; } }

    /// <summary>Starts the load (once) and returns it.</summary>
    public Task<LlmEngine> LoadAsync()
    {
        lock (_gate)
        {
            if (_load is not null) return _load;
            EngineOptions options;
            try
            {
                options = _options();
                options.Logger ??= _loggers?.CreateLogger<LlmEngine>();
            }
            catch (Exception e) { return _load = Task.FromException<LlmEngine>(e); }
            return _load = LlmEngine.LoadAsync(options);
        }
    }

    /// <summary>The engine for a DI factory (synchronous): waits for the load, rethrowing its failure as it was.</summary>
    public LlmEngine GetEngine()
    {
        var load = LoadAsync();
        // DI factories are synchronous; the load maps files and allocates the cache on the thread pool, so no sync
        // context is waited on.
        try { return load.GetAwaiter().GetResult(); }
        catch (Exception e) { ExceptionDispatchInfo.Capture(e).Throw(); throw; }
    }

    /// <summary>As <see cref="DisposeAsync"/>, for a container disposed synchronously.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Disposes the engine if it loaded (the container may dispose it too: disposal is idempotent).</summary>
    public async ValueTask DisposeAsync()
    {
        var load = Load;
        if (load is null) return;
        try { await (await load.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false); }
        catch (Exception) when (load.IsFaulted || load.IsCanceled) { } // nothing was loaded; the failure was reported when it happened
    }
}
