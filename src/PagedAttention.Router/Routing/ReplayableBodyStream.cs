namespace PagedAttention.Router.Routing;

/// <summary>
/// A request body whose first bytes were read ahead (to find the routing key): it replays those bytes, then reads the
/// rest from the original body as it arrives, so only the inspected prefix is ever held in memory. While nothing past
/// that prefix has been read, <see cref="TryRewind"/> starts it over, which lets a request whose connection to a
/// replica failed be sent to another one.
/// </summary>
internal sealed class ReplayableBodyStream : Stream
{
    private readonly byte[] _prefix;
    private readonly int _prefixLength;
    private readonly Stream? _rest;
    private int _position;
    private bool _restTouched;

    /// <param name="prefix">The bytes read ahead.</param>
    /// <param name="prefixLength">How many of <paramref name="prefix"/> are body bytes.</param>
    /// <param name="rest">The original body positioned after the prefix, or null when the prefix is the whole body.</param>
    public ReplayableBodyStream(byte[] prefix, int prefixLength, Stream? rest)
    {
        _prefix = prefix;
        _prefixLength = prefixLength;
        _rest = rest;
    }

    /// <summary>Whether the body is the prefix alone (it was read to its end).</summary>
    public bool Complete => _rest is null;

    /// <summary>Starts the body over; false when bytes past the buffered prefix were already read.</summary>
    public bool TryRewind()
    {
        if (_restTouched)
        {
            return false;
        }

        _position = 0;
        return true;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        if (_position < _prefixLength)
        {
            return CopyPrefix(buffer);
        }

        if (_rest is null)
        {
            return 0;
        }

        _restTouched = true;
        return _rest.Read(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return ValueTask.FromResult(0);
        }

        if (_position < _prefixLength)
        {
            return ValueTask.FromResult(CopyPrefix(buffer.Span));
        }

        if (_rest is null)
        {
            return ValueTask.FromResult(0);
        }

        _restTouched = true;
        return _rest.ReadAsync(buffer, cancellationToken);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int CopyPrefix(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, _prefixLength - _position);
        _prefix.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }
}
