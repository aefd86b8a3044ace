using System.Text;

namespace PagedAttention.Text.Templates;

/// <summary>
/// Per-render state that is not a variable: the clock for strftime_now, the loop depth, and the budget
/// (<see cref="TemplateLimits"/>) with the cancellation token, checked cooperatively at every loop iteration,
/// macro call and allocation.
/// </summary>
internal sealed class RenderState
{
    // The render on this thread, so that helpers deep in the value model (string repeat, padding, formatting) can
    // charge the budget without every signature carrying the state. A render runs on one thread from start to end.
    [ThreadStatic] private static RenderState? t_current;

    private readonly TemplateLimits _limits;
    private readonly CancellationToken _cancel;
    private readonly long _started;
    private long _allocated;
    private long _iterations;

    public RenderState(TimeProvider clock, TemplateLimits? limits = null, CancellationToken cancellationToken = default)
    {
        Clock = clock;
        _limits = limits ?? TemplateLimits.Default;
        _cancel = cancellationToken;
        _started = clock.GetTimestamp();
    }

    public TimeProvider Clock { get; }

    public int LoopDepth { get; set; }

    public long Allocated => _allocated;

    public long Iterations => _iterations;

    /// <summary>Makes this the thread's current render until the returned scope is disposed (nested renders restore the outer one).</summary>
    public CurrentScope Enter()
    {
        var previous = t_current;
        t_current = this;
        return new CurrentScope(previous);
    }

    public readonly struct CurrentScope(RenderState? previous) : IDisposable
    {
        public void Dispose() => t_current = previous;
    }

    /// <summary>Charges <paramref name="units"/> string characters or list elements about to be created.</summary>
    public static void Charge(long units) => t_current?.ChargeCore(units);

    /// <summary>
    /// Charges <paramref name="count"/> list or tuple elements. An element costs <see cref="UnitsPerItem"/> units: a
    /// reference plus, usually, a boxed value, against a UTF-16 char's two bytes.
    /// </summary>
    public static void ChargeItems(long count) => Charge(count, UnitsPerItem);

    public const long UnitsPerItem = 8;

    /// <summary>Charges the product of two sizes (a repeat count times a length) without overflowing.</summary>
    public static void Charge(long count, long length)
    {
        if (count <= 0 || length <= 0) return;
        Charge(count > long.MaxValue / length ? long.MaxValue : count * length);
    }

    private void ChargeCore(long units)
    {
        if (units <= 0) return;
        _allocated = units > long.MaxValue - _allocated ? long.MaxValue : _allocated + units;
        if (_allocated > _limits.MaxAllocatedLength)
            throw PyOps.Fail($"allocation limit: the template creates more than {_limits.MaxAllocatedLength:N0} string characters or list elements (TemplateLimits.MaxAllocatedLength)");
    }

    /// <summary>One loop iteration or macro call: counts against the iteration limit; every 256th also checks the token and the clock.</summary>
    public void Tick()
    {
        if (++_iterations > _limits.MaxIterations)
            throw PyOps.Fail($"iteration limit: the template runs more than {_limits.MaxIterations:N0} loop iterations and macro calls (TemplateLimits.MaxIterations)");
        if ((_iterations & 255) == 0) CheckTime();
    }

    public void CheckTime()
    {
        _cancel.ThrowIfCancellationRequested();
        if (Clock.GetElapsedTime(_started) > _limits.MaxRenderTime)
            throw PyOps.Fail($"time limit: the render took longer than {_limits.MaxRenderTime.TotalSeconds:0.###} s (TemplateLimits.MaxRenderTime)");
    }

    /// <summary>Appends rendered text, charging it and keeping the output under its limit.</summary>
    public void Append(StringBuilder sb, string text)
    {
        ChargeCore(text.Length);
        if (sb.Length + (long)text.Length > _limits.MaxOutputLength)
            throw PyOps.Fail($"output limit: the rendered text exceeds {_limits.MaxOutputLength:N0} characters (TemplateLimits.MaxOutputLength)");
        sb.Append(text);
    }
}
