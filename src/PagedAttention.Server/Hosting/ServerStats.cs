using System.Diagnostics.Metrics;

namespace PagedAttention.Server.Hosting;

/// <summary>
/// Request accounting of the server: every request that passed admission ends exactly once as completed, failed
/// (an error after admission: bad parameters found by the engine, engine fault, timeout) or cancelled (the client left);
/// requests refused before admission are counted by status. Also exported on the meter "PagedAttention.Server".
/// </summary>
internal sealed class ServerStats : IDisposable
{
    public const string MeterName = "PagedAttention.Server";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _requests;
    private long _admitted, _completed, _failed, _cancelled, _rejected;

    public ServerStats()
    {
        _requests = _meter.CreateCounter<long>("pagedattention.server.requests", "{request}",
            "Requests by outcome: rejected (with status, before admission), admitted, then completed, failed or cancelled.");
    }

    public long Admitted => Interlocked.Read(ref _admitted);
    public long Completed => Interlocked.Read(ref _completed);
    public long Failed => Interlocked.Read(ref _failed);
    public long Cancelled => Interlocked.Read(ref _cancelled);
    public long Rejected => Interlocked.Read(ref _rejected);

    public void Admit() { Interlocked.Increment(ref _admitted); _requests.Add(1, new KeyValuePair<string, object?>("outcome", "admitted")); }

    public void Complete() { Interlocked.Increment(ref _completed); _requests.Add(1, new KeyValuePair<string, object?>("outcome", "completed")); }

    public void Fail() { Interlocked.Increment(ref _failed); _requests.Add(1, new KeyValuePair<string, object?>("outcome", "failed")); }

    public void Cancel() { Interlocked.Increment(ref _cancelled); _requests.Add(1, new KeyValuePair<string, object?>("outcome", "cancelled")); }

    public void Reject(int status) { Interlocked.Increment(ref _rejected); _requests.Add(1, new("outcome", "rejected"), new("status", status)); }

    public void Dispose() => _meter.Dispose();
}
