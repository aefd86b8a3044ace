using System.Runtime.InteropServices;
using PagedAttention.AI.Sampling;
using PagedAttention.Kernels.Cpu;
using PagedAttention.Kernels.Cuda;

namespace PagedAttention.AI.Models.Cuda;

/// <summary>
/// Per-step inputs of the GPU sampler (kernels <c>apply_penalties</c> and <c>sample_rows</c>): one parameter row per
/// sequence and a list of (row, token, output count, flags) entries for penalties and min-tokens masking, built on
/// the host from the sequence's tokens and uploaded with one copy. Random draws are Philox keyed by the sequence's key
/// and counted by its output position, so a seeded request gets the same tokens whatever else is in the batch.
/// Not thread-safe.
/// </summary>
internal sealed unsafe class CudaSampler : IDisposable
{
    private readonly CudaDevice _device;
    private readonly Dictionary<int, (int Count, int Flags)> _distinct = [];
    private SampleRow[] _rows = new SampleRow[64];
    private readonly List<int> _entries = [];
    private uint[] _masks = [];                 // masks given directly (SetMask), by mask index
    private ITokenConstraint?[] _sources = [];  // per mask index: the constraint that fills it at launch, or null
    private int _numMasks, _maskWords;
    private Span<uint> StagedMasks() => _staging!.AsSpan<uint>(_maskOffset, _numMasks * _maskWords);
    private long _maskOffset;
    private CpuWorkerPool? _maskWorkers;
    private GCHandle _self;
    private int _numRows;
    private PinnedHostBuffer? _staging;
    private DeviceBuffer? _buffer;

    public CudaSampler(CudaDevice device) => _device = device;

    // Compile-time check (division by a constant zero does not compile): the kernel's empty-mask id is the engine's.
    private const int EmptyMaskTokensAgree = 1 / (CudaKernels.EmptyMaskToken == IDeviceSampler.EmptyMaskToken ? 1 : 0);

    [StructLayout(LayoutKind.Sequential)]
    private struct SampleRow
    {
        public float Temperature, TopP, MinP, Repetition, Frequency, Presence;
        public int TopK, Step;
        public uint KeyLo, KeyHi;
        public int MaskRow, Pad1;
    }

    /// <summary>Starts a step of <paramref name="rows"/> rows, all greedy until set.</summary>
    public void Begin(int rows)
    {
        if (_rows.Length < rows) _rows = new SampleRow[Math.Max(rows, 2 * _rows.Length)];
        _numRows = rows;
        _entries.Clear();
        _numMasks = 0;
        for (int r = 0; r < rows; r++) _rows[r] = new SampleRow { Temperature = 0, TopP = 1, Repetition = 1, MaskRow = -1 };
    }

    /// <summary>
    /// Constrains row <paramref name="row"/> (after its <see cref="SetRow"/>) to the tokens <paramref name="allowed"/>
    /// allows; the kernel reads the bitmask where it reads the logits. Every mask of a step has the same length.
    /// </summary>
    public void SetMask(int row, ReadOnlySpan<uint> allowed)
    {
        if ((uint)row >= (uint)_numRows) throw new ArgumentOutOfRangeException(nameof(row));
        if (allowed.IsEmpty) throw new ArgumentException("An allowed-token mask cannot be empty.", nameof(allowed));
        if (_numMasks > 0 && allowed.Length != _maskWords) throw new ArgumentException($"Masks of one step have {_maskWords} words, not {allowed.Length}.", nameof(allowed));
        _maskWords = allowed.Length;
        int index = AddMask(row, null);
        allowed.CopyTo(_masks.AsSpan(index * _maskWords));
    }

    /// <summary>
    /// Constrains row <paramref name="row"/> to what <paramref name="constraint"/> allows next. Its mask is computed at
    /// <see cref="Launch"/>, after the forward pass has been queued, on worker threads, so it overlaps the forward.
    /// </summary>
    public void SetConstraint(int row, ITokenConstraint constraint, int vocab)
    {
        if ((uint)row >= (uint)_numRows) throw new ArgumentOutOfRangeException(nameof(row));
        ArgumentNullException.ThrowIfNull(constraint);
        int words = Sampler.MaskWords(vocab);
        if (_numMasks > 0 && words != _maskWords) throw new ArgumentException($"Masks of one step have {_maskWords} words, not {words}.", nameof(vocab));
        _maskWords = words;
        AddMask(row, constraint);
    }

    private int AddMask(int row, ITokenConstraint? source)
    {
        int index = _numMasks++;
        int need = _numMasks * _maskWords;
        if (_masks.Length < need) Array.Resize(ref _masks, Math.Max(need, 2 * _masks.Length));
        if (_sources.Length < _numMasks) Array.Resize(ref _sources, Math.Max(_numMasks, 2 * _sources.Length));
        _sources[index] = source;
        _rows[row].MaskRow = index;
        return index;
    }

    // Fills the masks of the step into the staging buffer: direct ones copied, constraints' computed (in parallel when
    // there are several: a mask is tens of microseconds, hundreds of rows would otherwise serialise behind the GPU).
    private void FillMasks()
    {
        int constrained = 0;
        for (int i = 0; i < _numMasks; i++) if (_sources[i] is not null) constrained++;
        if (constrained < 2) { for (int i = 0; i < _numMasks; i++) FillOne(i); return; }
        _maskWorkers ??= new CpuWorkerPool(Math.Clamp(Environment.ProcessorCount - 1, 1, 8));
        if (!_self.IsAllocated) _self = GCHandle.Alloc(this);
        nint self = GCHandle.ToIntPtr(_self);
        _maskWorkers.Run(&FillTask, &self, _numMasks);
    }

    private static void FillTask(void* context, int index) => ((CudaSampler)GCHandle.FromIntPtr(*(nint*)context).Target!).FillOne(index);

    private void FillOne(int index)
    {
        var target = StagedMasks().Slice(index * _maskWords, _maskWords);
        if (_sources[index] is not { } c) { _masks.AsSpan(index * _maskWords, _maskWords).CopyTo(target); return; }
        // A constraint that throws allows nothing: the kernel then writes the empty-mask id and the request fails
        // with the constraint named, instead of the exception escaping a worker thread.
        try { c.FillMask(target); }
        catch (Exception) { target.Clear(); }
    }

    /// <summary>
    /// Sets row <paramref name="row"/>: <paramref name="p"/>'s temperature, top-k/p, min-p and penalties over
    /// <paramref name="prompt"/> and <paramref name="output"/>; <paramref name="endTokenIds"/> are masked while the
    /// output is shorter than MinTokens. <paramref name="key"/> and <paramref name="step"/> select the random stream.
    /// </summary>
    public void SetRow(int row, in SamplingRow p, ulong key, int step, ReadOnlySpan<int> prompt, ReadOnlySpan<int> output, ReadOnlySpan<int> endTokenIds)
    {
        if ((uint)row >= (uint)_numRows) throw new ArgumentOutOfRangeException(nameof(row));
        bool greedy = p.IsGreedy;
        _rows[row] = new SampleRow
        {
            Temperature = greedy ? 0 : p.Temperature, TopP = p.TopP, MinP = p.MinP, TopK = p.TopK,
            Repetition = p.RepetitionPenalty, Frequency = p.FrequencyPenalty, Presence = p.PresencePenalty,
            Step = step, KeyLo = (uint)key, KeyHi = (uint)(key >> 32), MaskRow = -1,
        };
        bool rep = p.RepetitionPenalty != 1f, freq = p.FrequencyPenalty != 0f || p.PresencePenalty != 0f, mask = output.Length < p.MinTokens;
        if (!rep && !freq && !mask) return;
        _distinct.Clear();
        if (rep) foreach (int t in prompt) _distinct[t] = (0, 1);
        if (rep || freq)
            foreach (int t in output)
            {
                _distinct.TryGetValue(t, out var e);
                _distinct[t] = (freq ? e.Count + 1 : 0, e.Flags | (rep ? 1 : 0));
            }
        if (mask)
            foreach (int t in endTokenIds) { _distinct.TryGetValue(t, out var e); _distinct[t] = (e.Count, e.Flags | 2); }
        foreach (var (t, e) in _distinct)
        {
            _entries.Add(row); _entries.Add(t); _entries.Add(e.Count); _entries.Add(e.Flags);
        }
    }

    /// <summary>Uploads the step's rows and entries, applies penalties to <paramref name="logits"/> in place and writes one id per row.</summary>
    public void Launch(CudaKernels kernels, ulong logits, int vocab, ulong ids, int rows)
    {
        if (rows != _numRows) throw new InvalidOperationException($"The sampler was set up for {_numRows} rows, not {rows}.");
        long rowBytes = (long)rows * CudaKernels.SampleRowBytes, entryBytes = _entries.Count * 4L, maskBytes = (long)_numMasks * _maskWords * 4;
        long total = rowBytes + entryBytes + maskBytes;
        if (_numMasks > 0 && _maskWords != (vocab + 31) / 32) throw new InvalidOperationException($"Masks have {_maskWords} words; a vocabulary of {vocab} needs {(vocab + 31) / 32}.");
        if (_staging is null || _staging.Bytes < total)
        {
            long size = Math.Max(total * 2, 1 << 16);
            _staging?.Dispose(); _staging = null;
            _buffer?.Dispose(); _buffer = null;
            _staging = new PinnedHostBuffer(_device, size);
            _buffer = _device.Allocate(size);
        }
        MemoryMarshal.AsBytes(_rows.AsSpan(0, rows)).CopyTo(_staging.AsSpan<byte>(0, (int)rowBytes));
        CollectionsMarshal.AsSpan(_entries).CopyTo(_staging.AsSpan<int>(rowBytes, _entries.Count));
        _maskOffset = rowBytes + entryBytes;
        if (_numMasks > 0) FillMasks(); // the forward pass is already queued: this overlaps it
        _staging.CopyToDeviceAsync(_buffer!, total);
        ulong rowPtr = _buffer!.Ptr, entryPtr = rowPtr + (ulong)rowBytes, maskPtr = _numMasks > 0 ? entryPtr + (ulong)entryBytes : 0;
        if (_entries.Count > 0) kernels.ApplyPenalties(logits, vocab, rowPtr, entryPtr, _entries.Count / 4);
        kernels.SampleRows(logits, vocab, rowPtr, maskPtr, _maskWords, ids, rows);
    }

    public void Dispose()
    {
        _staging?.Dispose();
        _buffer?.Dispose();
        _maskWorkers?.Dispose();
        if (_self.IsAllocated) _self.Free();
    }
}
