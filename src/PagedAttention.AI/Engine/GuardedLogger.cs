using Microsoft.Extensions.Logging;

namespace PagedAttention.AI.Engine;

/// <summary>
/// The host's logger behind a wall: whatever it throws (from <c>Log</c>, <c>IsEnabled</c> or <c>BeginScope</c>) is
/// swallowed and counted, so a broken logger can fail neither a request nor the step loop nor the process. The engine
/// and everything it creates log only through this.
/// </summary>
internal sealed class GuardedLogger(ILogger inner) : ILogger
{
    private long _dropped;

    /// <summary>Log calls the host's logger threw on.</summary>
    public long DroppedCalls => Interlocked.Read(ref _dropped);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull
    {
        try { return inner.BeginScope(state); }
        catch (Exception) { Interlocked.Increment(ref _dropped); return null; }
    }

    public bool IsEnabled(LogLevel logLevel)
    {
        try { return inner.IsEnabled(logLevel); }
        catch (Exception) { Interlocked.Increment(ref _dropped); return false; }
    }

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        try { inner.Log(logLevel, eventId, state, exception, formatter); }
        catch (Exception) { Interlocked.Increment(ref _dropped); }
    }
}
