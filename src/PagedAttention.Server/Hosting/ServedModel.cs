using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using PagedAttention.Server.Protocol;
using PagedAttention.Server.Tenancy;

namespace PagedAttention.Server.Hosting;

/// <summary>
/// The engine the endpoints serve (the <see cref="LlmEngine"/> of the container, loaded by <c>AddPagedAttention</c>),
/// its chat client (the registered <see cref="IChatClient"/> when it is a <see cref="PagedAttentionChatClient"/> over
/// that engine, else a new one), the model id, and the admission gate sized from the engine. Resolved on first use, so
/// a failed load answers 503 on every request (and /health) instead of failing the app.
/// </summary>
internal sealed class ServedModel(IServiceProvider services, IOptions<OpenAIServerOptions> options)
{
    private readonly object _gate = new();
    private State? _state;
    private Exception? _failure;

    internal sealed record State(LlmEngine Engine, PagedAttentionChatClient Client, string ModelId, AdmissionGate Admission);

    /// <summary>The engine and its client; throws 503 when the engine did not load.</summary>
    public State Get()
    {
        if (Volatile.Read(ref _state) is { } s) return s;
        lock (_gate)
        {
            if (_state is not null) return _state;
            if (_failure is null)
            {
                try
                {
                    var engine = services.GetRequiredService<LlmEngine>();
                    var client = services.GetService<IChatClient>()?.GetService<PagedAttentionChatClient>() is { } c && ReferenceEquals(c.GetService(typeof(LlmEngine)), engine)
                        ? c : new PagedAttentionChatClient(engine);
                    var o = options.Value;
                    // The packaged default model is served as "default" (its folder's name is an implementation detail).
                    bool isDefault = string.Equals(Path.GetFullPath(engine.Model.Directory).TrimEnd('/'), Path.GetFullPath(AI.Models.ModelLocator.DefaultModelDirectory).TrimEnd('/'), StringComparison.Ordinal);
                    return _state = new State(engine, client, o.ModelId ?? (isDefault ? "default" : client.ModelId), new AdmissionGate(engine.MaxNumSeqs + o.MaxWaitingRequests, o.RetryAfterSeconds));
                }
                catch (Exception e) { _failure = e; }
            }
            throw ErrorWriter.Unavailable($"The model failed to load: {_failure.Message}");
        }
    }

    /// <summary>Null when healthy; else why not (load failed, the step loop died, the engine was disposed).</summary>
    public string? Unhealthy()
    {
        State s;
        try { s = Get(); }
        catch (OpenAIException e) { return e.Message; }
        if (s.Engine.LoopFailure is { } f) return $"The engine's step loop failed: {f.Message}";
        if (s.Engine.IsDisposed) return "The engine was disposed.";
        if (RecentFault(s.Engine) is { } fault) return fault;
        return null;
    }

    /// <summary>A forward-pass failure within <see cref="OpenAIServerOptions.FaultCooldown"/>, in words; else null.</summary>
    public string? RecentFault(LlmEngine engine) =>
        engine.LastForwardFailure is { } f && f.Age < options.Value.FaultCooldown
            ? $"A forward pass failed {f.Age.TotalSeconds:F0} s ago ({f.Error.Message}); the server refuses requests until {options.Value.FaultCooldown.TotalSeconds:F0} s after the last failure."
            : null;

    /// <summary>How long until <see cref="RecentFault"/> clears.</summary>
    public TimeSpan FaultRetryAfter(LlmEngine engine) =>
        engine.LastForwardFailure is { } f ? options.Value.FaultCooldown - f.Age : TimeSpan.Zero;
}
