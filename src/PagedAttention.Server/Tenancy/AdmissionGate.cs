using PagedAttention.Server.Protocol;

namespace PagedAttention.Server.Tenancy;

/// <summary>
/// The bounded waiting queue: sequences admitted (n per request) may exceed what the engine runs at once by
/// <see cref="OpenAIServerOptions.MaxWaitingRequests"/>; past that, new requests get 503 with Retry-After instead of
/// queueing without bound. Thread-safe.
/// </summary>
internal sealed class AdmissionGate(int capacity, int retryAfterSeconds)
{
    private int _admitted;

    public int Capacity { get; } = capacity;

    /// <summary>Sequences admitted now.</summary>
    public int Admitted => Volatile.Read(ref _admitted);

    /// <summary>Admits <paramref name="sequences"/> or throws 503; dispose the result when the request ends.</summary>
    public Ticket Enter(int sequences)
    {
        if (Interlocked.Add(ref _admitted, sequences) > Capacity)
        {
            Interlocked.Add(ref _admitted, -sequences);
            throw ErrorWriter.Unavailable($"The server is overloaded: {Capacity} sequences are running or waiting. Retry later.", TimeSpan.FromSeconds(retryAfterSeconds));
        }
        return new Ticket(this, sequences);
    }

    internal readonly struct Ticket(AdmissionGate gate, int sequences) : IDisposable
    {
        public void Dispose() => Interlocked.Add(ref gate._admitted, -sequences);
    }
}
