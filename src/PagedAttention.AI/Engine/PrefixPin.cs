using PagedAttention.AI.KvCache;

namespace PagedAttention.AI.Engine;

/// <summary>
/// A pinned prompt prefix (<see cref="LlmEngine.PinPrefixAsync"/>): while it is held, the KV blocks of the prefix's
/// full blocks stay in the prefix cache and are never evicted, so every request that starts with those tokens (and has
/// the same cache salt) takes them from the cache. Disposing unpins; the blocks then age out like any cached block.
/// </summary>
public sealed class PrefixPin : IAsyncDisposable, IDisposable
{
    private readonly LlmEngine _engine;
    private int _disposed;

    internal PrefixPin(LlmEngine engine, int requestedTokens, string? cacheSalt)
    {
        _engine = engine;
        RequestedTokens = requestedTokens;
        CacheSalt = cacheSalt;
    }

    /// <summary>Tokens the caller asked to pin.</summary>
    public int RequestedTokens { get; }

    /// <summary>Tokens pinned: the whole blocks of the prefix (a partial last block is not pinned: it is recomputed by each request, as in any prefix hit).</summary>
    public int NumTokens { get; private set; }

    /// <summary>KV blocks the pin holds (they count against the pool).</summary>
    public int NumBlocks { get; private set; }

    /// <summary>The cache salt the prefix was pinned under (only requests with the same salt share it).</summary>
    public string? CacheSalt { get; }

    /// <summary>True from the moment the blocks are pinned until the pin is disposed (and the engine has released them).</summary>
    public bool IsPinned => Volatile.Read(ref _blocks) is not null;

    // Set by the step loop only.
    private KvBlock[]? _blocks;
    internal KvBlock[]? Blocks => _blocks;

    /// <summary>Completed by the step loop when the blocks are pinned, or with the reason they could not be.</summary>
    internal TaskCompletionSource Pinned { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completed by the step loop when the blocks are released (or when there is nothing to release).</summary>
    internal TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal void SetPinned(KvBlock[] blocks, int blockSize)
    {
        NumBlocks = blocks.Length;
        NumTokens = blocks.Length * blockSize;
        Volatile.Write(ref _blocks, blocks);
        Pinned.TrySetResult();
    }

    internal KvBlock[]? TakeBlocks() => Interlocked.Exchange(ref _blocks, null);

    /// <summary>Unpins now if the step loop is idle, else before its next step; returns without waiting.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _engine.Unpin(this);
    }

    /// <summary>Unpins and waits until the engine has released the blocks (they are then evictable).</summary>
    public async ValueTask DisposeAsync()
    {
        Dispose();
        await Released.Task.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override string ToString() => $"PrefixPin({NumTokens} tokens, {NumBlocks} blocks{(CacheSalt is null ? "" : ", salted")}{(IsPinned ? "" : ", released")})";
}
