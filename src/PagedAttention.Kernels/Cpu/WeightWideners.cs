using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PagedAttention.Kernels.Cpu;

/// <summary>
/// Loads weight elements of one dtype widened to float32. Kernels are generic over an implementing struct so the
/// JIT emits one specialised loop per dtype (no per-element branching on the dtype).
/// </summary>
internal unsafe interface IWeightWidener
{
    /// <summary>Bytes per element.</summary>
    static abstract int ElementSize { get; }

    /// <summary>Elements [i, i + 16) of the row at <paramref name="row"/>.</summary>
    static abstract Vector512<float> Load16(byte* row, int i);

    /// <summary>Elements [i, i + 8) of the row at <paramref name="row"/> (the AVX2 path).</summary>
    static abstract Vector256<float> Load8(byte* row, int i);

    /// <summary>Element i of the row at <paramref name="row"/>.</summary>
    static abstract float Load1(byte* row, int i);
}

/// <summary>float32 weights: a plain load.</summary>
internal readonly unsafe struct F32Widener : IWeightWidener
{
    public static int ElementSize => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int i) => Vector512.Load((float*)row + i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int i) => Vector256.Load((float*)row + i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, int i) => ((float*)row)[i];
}

/// <summary>bfloat16 weights: zero-extend to 32 bits and shift into the upper half (exact).</summary>
internal readonly unsafe struct Bf16Widener : IWeightWidener
{
    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int i)
    {
        var h = Vector256.Load((ushort*)row + i);
        if (Avx512F.IsSupported)
            return Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(h), 16).AsSingle();
        var lo = Vector256.WidenLower(h);
        var hi = Vector256.WidenUpper(h);
        return Vector512.ShiftLeft(Vector512.Create(lo, hi), 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int i)
    {
        var h = Vector128.Load((ushort*)row + i);
        if (Avx2.IsSupported)
            return Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(h).AsUInt32(), 16).AsSingle();
        return Vector256.ShiftLeft(Vector256.Create(Vector128.WidenLower(h), Vector128.WidenUpper(h)), 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, int i) => BitConverter.Int32BitsToSingle(((ushort*)row)[i] << 16);
}

/// <summary>
/// IEEE half weights. .NET exposes no F16C/AVX512-FP16 conversion intrinsic, so this widens with integer
/// arithmetic: move exponent+mantissa into float position and multiply by 2^112, which rebiases the exponent
/// and turns half subnormals into the right float normals exactly; infinities/NaNs are patched, then the sign ORed.
/// </summary>
internal readonly unsafe struct F16Widener : IWeightWidener
{
    public static int ElementSize => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int i)
    {
        var h16 = Vector256.Load((ushort*)row + i);
        Vector512<uint> h = Avx512F.IsSupported
            ? Avx512F.ConvertToVector512UInt32(h16)
            : Vector512.Create(Vector256.WidenLower(h16), Vector256.WidenUpper(h16));
        var magnitude = h & Vector512.Create(0x7FFFu);
        var sign = (h & Vector512.Create(0x8000u)) << 16;
        var shifted = magnitude << 13;
        var scaled = (shifted.AsSingle() * Vector512.Create(5.192296858534828e+33f)).AsUInt32(); // 2^112
        var infNan = shifted | Vector512.Create(0x7F800000u);
        var isInfNan = Vector512.GreaterThanOrEqual(magnitude, Vector512.Create(0x7C00u));
        return (Vector512.ConditionalSelect(isInfNan, infNan, scaled) | sign).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int i)
    {
        var h16 = Vector128.Load((ushort*)row + i);
        Vector256<uint> h = Avx2.IsSupported
            ? Avx2.ConvertToVector256Int32(h16).AsUInt32()
            : Vector256.Create(Vector128.WidenLower(h16), Vector128.WidenUpper(h16));
        var magnitude = h & Vector256.Create(0x7FFFu);
        var sign = (h & Vector256.Create(0x8000u)) << 16;
        var shifted = magnitude << 13;
        var scaled = (shifted.AsSingle() * Vector256.Create(5.192296858534828e+33f)).AsUInt32(); // 2^112
        var infNan = shifted | Vector256.Create(0x7F800000u);
        var isInfNan = Vector256.GreaterThanOrEqual(magnitude, Vector256.Create(0x7C00u));
        return (Vector256.ConditionalSelect(isInfNan, infNan, scaled) | sign).AsSingle();
    }

    /// <remarks>
    /// The vector steps on one element, inlined and without a call: <c>(float)Half</c> is a call, and a call in the
    /// tiles' scalar tails made the JIT spill the 1x8 tile's accumulators to the stack around its vector loop.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, int i)
    {
        uint h = ((ushort*)row)[i];
        uint magnitude = h & 0x7FFF, shifted = magnitude << 13;
        uint bits = magnitude >= 0x7C00 ? shifted | 0x7F800000u : BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle(shifted) * 5.192296858534828e+33f);
        return BitConverter.UInt32BitsToSingle(bits | ((h & 0x8000) << 16));
    }
}

/// <summary>
/// FP8 E4M3 weight codes (<see cref="Fp8E4M3"/>), widened exactly: <see cref="F8E4M3RawWidener"/>'s value × 2^-120,
/// times 2^120 (which rebiases the exponent; E4M3 subnormals become the right floats). Finite codes only: the NaN codes
/// (S.1111.111) would widen to ±480, so FP8 checkpoints are checked for them at load (<c>Fp8Reader</c>). The GEMV
/// uses the raw widener and moves the 2^120 out of its loop; this one gives the exact values (tests, references).
/// </summary>
internal readonly unsafe struct F8E4M3Widener : IWeightWidener
{
    private const float Two120 = 1.329227995784916e+36f;

    public static int ElementSize => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int i) => F8E4M3RawWidener.Load16(row, i) * Vector512.Create(Two120);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int i) => F8E4M3RawWidener.Load8(row, i) * Vector256.Create(Two120);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, int i) => F8E4M3RawWidener.Load1(row, i) * Two120;
}

/// <summary>
/// FP8 E4M3 codes widened to their value times 2^-120 in three steps: sign-extend the byte to 32 bits and shift it left
/// by 20 (sign bits land in 27–31, exponent and mantissa in 20–26), clear bits 27–30 (the float sign stays, the
/// exponent field becomes the code's). The GEMV multiplies x by 2^80 once per call and its outputs by 2^40, so each
/// weight costs three instructions instead of four. Power-of-two scaling commutes with rounding, so the products and
/// sums are the same bits as with exact widening while they stay in float32's normal range (|x| below 2^48, products
/// above 2^-86 in magnitude). Finite codes only (see <see cref="F8E4M3Widener"/>).
/// </summary>
internal readonly unsafe struct F8E4M3RawWidener : IWeightWidener
{
    private const int KeepSignAndCode = unchecked((int)0x87FFFFFF);

    public static int ElementSize => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int i)
    {
        var codes = Vector128.Load((sbyte*)row + i);
        Vector512<int> b = Avx512F.IsSupported
            ? Avx512F.ConvertToVector512Int32(codes)
            : Vector512.Create(Vector256.WidenLower(Vector256.WidenLower(codes.ToVector256())), Vector256.WidenUpper(Vector256.WidenLower(codes.ToVector256())));
        return ((b << 20) & Vector512.Create(KeepSignAndCode)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int i)
    {
        var b8 = Vector128.CreateScalarUnsafe(*(long*)(row + i)).AsSByte();
        Vector256<int> b = Avx2.IsSupported
            ? Avx2.ConvertToVector256Int32(b8)
            : Vector256.WidenLower(Vector256.WidenLower(b8.ToVector256()));
        return ((b << 20) & Vector256.Create(KeepSignAndCode)).AsSingle();
    }

    /// <remarks>The same steps on one code, branch-free and inlined: a call here (in the tiles' scalar tails) made the
    /// JIT spill every accumulator of the 1x8 tile around its vector loop, since calls clobber all vector registers.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, int i) => BitConverter.Int32BitsToSingle((((sbyte*)row)[i] << 20) & KeepSignAndCode);
}
