namespace PagedAttention.Kernels;

/// <summary>
/// A row-major weight matrix in unmanaged memory (usually a memory-mapped checkpoint), laid out like a
/// PyTorch <c>nn.Linear</c> weight: <see cref="Rows"/> output features by <see cref="Cols"/> input features.
/// Quantized matrices (<see cref="DType.Int8"/>, <see cref="DType.Int4"/>) also carry <see cref="Scales"/> and pad
/// each row to <see cref="PaddedCols"/> columns. The memory must outlive every kernel call that reads it.
/// </summary>
internal unsafe struct WeightMatrix
{
    /// <summary>Columns of a quantized row are padded to a multiple of this (one int4 block: 32 bytes, two scale groups).</summary>
    public const int QuantGroup = 64;

    /// <summary>Columns per int4 scale (half a <see cref="QuantGroup"/> block).</summary>
    public const int Int4ScaleGroup = 32;

    /// <summary>Creates a view over <paramref name="rows"/> x <paramref name="cols"/> elements at <paramref name="data"/>.</summary>
    public WeightMatrix(nint data, DType dtype, int rows, int cols)
    {
        if (data == 0) throw new ArgumentNullException(nameof(data));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        if (dtype is DType.Int8 or DType.Int4 or DType.F8E4M3) throw new ArgumentException("Quantized matrices need scales; use the constructor that takes them.", nameof(dtype));
        Data = data;
        DType = dtype;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>
    /// Creates a view over a quantized matrix: <paramref name="data"/> holds rows of <see cref="RowBytes"/> bytes,
    /// <paramref name="scales"/> one float per row (Int8) or per 32-column group (Int4, row-major [rows, PaddedCols / 32]).
    /// </summary>
    public WeightMatrix(nint data, nint scales, DType dtype, int rows, int cols)
    {
        if (data == 0) throw new ArgumentNullException(nameof(data));
        if (scales == 0) throw new ArgumentNullException(nameof(scales));
        if (dtype is not (DType.Int8 or DType.Int4 or DType.F8E4M3)) throw new ArgumentException("Only Int8, Int4 and F8E4M3 matrices carry scales.", nameof(dtype));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        Data = data;
        Scales = scales;
        DType = dtype;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>Address of element [0, 0].</summary>
    public nint Data { get; }

    /// <summary>Quantization scales (<see cref="DType.Int8"/> and <see cref="DType.F8E4M3"/>: [Rows]; <see cref="DType.Int4"/>: [Rows, PaddedCols / 32]); 0 otherwise.</summary>
    public nint Scales { get; }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Output features (rows).</summary>
    public int Rows { get; }

    /// <summary>Input features (columns).</summary>
    public int Cols { get; }

    /// <summary>Whether the matrix is Int8 or Int4.</summary>
    public bool IsQuantized => DType is DType.Int8 or DType.Int4;

    /// <summary>Columns per stored row: <see cref="Cols"/>, or for quantized matrices rounded up to a multiple of 64.</summary>
    public int PaddedCols => IsQuantized ? (Cols + QuantGroup - 1) / QuantGroup * QuantGroup : Cols;

    /// <summary>Bytes per stored row.</summary>
    public long RowBytes => DType switch
    {
        DType.Int4 => PaddedCols / 2,
        DType.Int8 => PaddedCols,
        _ => (long)Cols * DType.SizeInBytes(),
    };

    /// <summary>Bytes of scales (0 for unquantized matrices).</summary>
    public long ScaleBytes => DType switch
    {
        DType.Int8 or DType.F8E4M3 => (long)Rows * sizeof(float),
        DType.Int4 => (long)Rows * (PaddedCols / Int4ScaleGroup) * sizeof(float),
        _ => 0,
    };

    /// <summary>Size of the matrix in bytes, scales included.</summary>
    public long SizeInBytes => Rows * RowBytes + ScaleBytes;

    /// <summary>Reads element [row, col] widened (dequantized) to float (slow; for tests and reference code).</summary>
    public float this[int row, int col]
    {
        get
        {
            long i = (long)row * Cols + col;
            switch (DType)
            {
                case DType.F32: return ((float*)Data)[i];
                case DType.F16: return (float)((Half*)Data)[i];
                case DType.BF16: return BitConverter.Int32BitsToSingle(((ushort*)Data)[i] << 16);
                case DType.Int8:
                    return ((sbyte*)Data)[row * RowBytes + col] * ((float*)Scales)[row];
                case DType.F8E4M3:
                    return Fp8E4M3.ToSingle(((byte*)Data)[i]) * ((float*)Scales)[row];
                case DType.Int4:
                {
                    int g = col / QuantGroup, j = col % QuantGroup;
                    byte b = ((byte*)Data)[row * RowBytes + g * (QuantGroup / 2) + j % (QuantGroup / 2)];
                    int q = (j < QuantGroup / 2 ? b & 0xF : b >> 4) - 8;
                    return q * ((float*)Scales)[(long)row * (PaddedCols / Int4ScaleGroup) + col / Int4ScaleGroup];
                }
                default: throw new InvalidOperationException("Unknown dtype.");
            }
        }
    }
}
