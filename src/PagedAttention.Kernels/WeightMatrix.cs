namespace PagedAttention.Kernels;

/// <summary>
/// A row-major weight matrix in unmanaged memory (usually a memory-mapped checkpoint), laid out like a
/// PyTorch <c>nn.Linear</c> weight: <see cref="Rows"/> output features by <see cref="Cols"/> input features.
/// The memory must outlive every kernel call that reads it.
/// </summary>
internal unsafe struct WeightMatrix
{
    /// <summary>Creates a view over <paramref name="rows"/> x <paramref name="cols"/> elements at <paramref name="data"/>.</summary>
    public WeightMatrix(nint data, DType dtype, int rows, int cols)
    {
        if (data == 0) throw new ArgumentNullException(nameof(data));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        Data = data;
        DType = dtype;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>Address of element [0, 0].</summary>
    public nint Data { get; }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Output features (rows).</summary>
    public int Rows { get; }

    /// <summary>Input features (columns).</summary>
    public int Cols { get; }

    /// <summary>Size of the matrix in bytes.</summary>
    public long SizeInBytes => (long)Rows * Cols * DType.SizeInBytes();

    /// <summary>Reads element [row, col] widened to float (slow; for tests and reference code).</summary>
    public float this[int row, int col]
    {
        get
        {
            long i = (long)row * Cols + col;
            return DType switch
            {
                DType.F32 => ((float*)Data)[i],
                DType.F16 => (float)((Half*)Data)[i],
                DType.BF16 => BitConverter.Int32BitsToSingle(((ushort*)Data)[i] << 16),
                _ => throw new InvalidOperationException("Unknown dtype."),
            };
        }
    }
}
