namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// A persistent pool of dedicated worker threads for the CPU kernels. A kernel call publishes one job
/// (a function pointer, a context pointer and a task count); the workers and the calling thread take task
/// indices from a shared counter until none are left, and the caller returns once every worker is done.
/// </summary>
/// <remarks>
/// Why not <c>Parallel.For</c>: a decode step issues hundreds of small kernels, and the per-call cost of the
/// thread pool (allocation, queueing, wake-up latency) is a large fraction of a 50 µs GEMV. The workers here spin
/// briefly after a job (the next kernel usually follows within microseconds) and then sleep on a semaphore, so an
/// idle engine costs no CPU. Dispatch allocates nothing. Results never depend on which thread ran a task: every
/// kernel splits work so that each output element is computed by exactly one task in a fixed order.
/// If the pool is busy (another thread is dispatching, or a kernel runs inside a task) the job runs inline.
/// </remarks>
internal unsafe class CpuWorkerPool : IDisposable
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _wake;
    private readonly int[] _sleeping;
    private readonly Lock _dispatch = new();
    private readonly int _spinIterations;

    // The published job. Written by the dispatcher before _generation is bumped (a full fence), read by
    // workers after they observe the new generation.
    private delegate*<void*, int, void> _body;
    private void* _context;
    private int _taskCount;
    private int _nextTask;
    private int _generation;
    // 1 while the current job accepts workers. A worker increments _inside and then checks _open; the dispatcher
    // closes the job and then waits for _inside == 0 (both sides use full fences), so no worker can touch a job's
    // context after Run returns, and the dispatcher never waits for a worker that woke too late to help.
    private int _open;
    private int _inside;
    private volatile bool _disposed;

    [ThreadStatic] private static bool t_insideTask;

    /// <summary>Creates a pool whose jobs run on <paramref name="threads"/> threads, the caller included.</summary>
    /// <param name="threads">Total parallelism including the dispatching thread (1 = everything inline).</param>
    /// <param name="spinIterations">
    /// How many <see cref="Thread.SpinWait(int)"/>(20) rounds an idle worker polls before it sleeps (200 is roughly
    /// 0.1–0.2 ms: longer than the gap between two kernels of a decode step, short enough not to burn a shared core).
    /// </param>
    public CpuWorkerPool(int threads, int spinIterations = RuntimeSwitches.DefaultCpuSpinIterations)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        ArgumentOutOfRangeException.ThrowIfNegative(spinIterations);
        _spinIterations = spinIterations;
        int workers = threads - 1;
        _threads = new Thread[workers];
        _wake = new SemaphoreSlim[workers];
        _sleeping = new int[workers];
        for (int i = 0; i < workers; i++)
        {
            _wake[i] = new SemaphoreSlim(0);
            int index = i;
            _threads[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"PagedAttention CPU worker {i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>
    /// The process-wide pool used by <see cref="CpuOps"/>. Its size is <see cref="Environment.ProcessorCount"/>
    /// unless <see cref="RuntimeSwitches.CpuThreads"/> (<c>PAGEDATTENTION_CPU_THREADS</c>) names another count;
    /// <see cref="RuntimeSwitches.CpuSpinIterations"/> (<c>PAGEDATTENTION_CPU_SPIN</c>) overrides the idle spin (see
    /// the constructor).
    /// </summary>
    /// <remarks>
    /// Unlike the CUDA backend, which gets its <see cref="RuntimeSwitches"/> from whoever creates it, this pool takes
    /// the process-wide <see cref="RuntimeSwitches.FromEnvironment"/> once, when it is first used: it is shared by every
    /// CPU model (and every engine) of the process and created lazily by the first kernel call, so there is no single
    /// owner that could pass switches in, and a second engine with other switches could not resize threads that are
    /// already running. Code that wants another size creates its own pool with the constructor.
    /// </remarks>
    public static CpuWorkerPool Shared { get; } = Create(RuntimeSwitches.FromEnvironment());

    /// <summary>A pool sized by <paramref name="switches"/>: <see cref="RuntimeSwitches.CpuThreads"/> (else the processor count) and <see cref="RuntimeSwitches.CpuSpinIterations"/>.</summary>
    internal static CpuWorkerPool Create(RuntimeSwitches switches) =>
        new(switches.CpuThreads ?? Environment.ProcessorCount, switches.CpuSpinIterations);

    /// <summary>Total parallelism of a job, the dispatching thread included.</summary>
    public int ThreadCount => _threads.Length + 1;

    /// <summary>
    /// Runs <paramref name="body"/>(<paramref name="context"/>, i) for every i in [0, <paramref name="taskCount"/>)
    /// across the pool and returns when all have finished. The context must stay valid until then (a pointer to
    /// a struct on the caller's stack is fine). Exceptions must not escape <paramref name="body"/>.
    /// </summary>
    public void Run(delegate*<void*, int, void> body, void* context, int taskCount)
    {
        if (body == null) throw new ArgumentNullException(nameof(body));
        ArgumentOutOfRangeException.ThrowIfNegative(taskCount);
        if (taskCount == 0) return;
        if (taskCount == 1 || _threads.Length == 0 || t_insideTask || _disposed || !_dispatch.TryEnter())
        {
            RunInline(body, context, taskCount);
            return;
        }
        try
        {
            _body = body;
            _context = context;
            _taskCount = taskCount;
            _nextTask = 0;
            Interlocked.Exchange(ref _open, 1);
            Interlocked.Increment(ref _generation); // publishes the job (full fence)
            for (int i = 0; i < _threads.Length; i++)
                if (Interlocked.Exchange(ref _sleeping[i], 0) == 1) _wake[i].Release();

            t_insideTask = true;
            try { Drain(); }
            finally { t_insideTask = false; }

            // The context lives on our caller's stack: wait until no worker can touch it any more.
            Interlocked.Exchange(ref _open, 0);
            var spin = new SpinWait();
            while (Volatile.Read(ref _inside) != 0) spin.SpinOnce(sleep1Threshold: -1);
        }
        finally
        {
            _dispatch.Exit();
        }
    }

    private static void RunInline(delegate*<void*, int, void> body, void* context, int taskCount)
    {
        bool outer = !t_insideTask;
        t_insideTask = true;
        try
        {
            for (int i = 0; i < taskCount; i++) body(context, i);
        }
        finally
        {
            if (outer) t_insideTask = false;
        }
    }

    private void Drain()
    {
        var body = _body;
        var context = _context;
        int count = _taskCount;
        int i;
        while ((i = Interlocked.Increment(ref _nextTask) - 1) < count) body(context, i);
    }

    private void WorkerLoop(int index)
    {
        t_insideTask = true;
        int seen = 0;
        while (true)
        {
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && spins < _spinIterations)
            {
                Thread.SpinWait(20);
                spins++;
            }
            if (Volatile.Read(ref _generation) == seen)
            {
                // Announce that we sleep, then re-check: a dispatcher that bumped the generation before seeing
                // our flag will not release us, so we must notice the job ourselves.
                Interlocked.Exchange(ref _sleeping[index], 1);
                if (Volatile.Read(ref _generation) == seen || Interlocked.Exchange(ref _sleeping[index], 0) == 0)
                    _wake[index].Wait();
            }
            if (_disposed) return;
            seen = Volatile.Read(ref _generation);
            Interlocked.Increment(ref _inside);
            if (Volatile.Read(ref _open) == 1) Drain();
            Interlocked.Decrement(ref _inside);
        }
    }

    /// <summary>Stops the worker threads. Kernels dispatched afterwards run inline.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        lock (_dispatch)
        {
            _disposed = true;
            Interlocked.Increment(ref _generation);
            for (int i = 0; i < _threads.Length; i++)
                if (Interlocked.Exchange(ref _sleeping[i], 0) == 1) _wake[i].Release();
        }
        foreach (var t in _threads) t.Join();
        foreach (var w in _wake) w.Dispose();
    }
}
