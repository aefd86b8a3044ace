using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PagedAttention.Kernels.Cpu;

/// <summary>Per-row SIMD helpers behind the element-wise <see cref="CpuOps"/> kernels.</summary>
internal static unsafe class Elementwise
{
    /// <summary>One RMSNorm row. The sum of squares uses one vector accumulator and a fixed reduction order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RmsNormRow(float* x, float* w, float eps, float* y, int d)
    {
        var acc = Vector512<float>.Zero;
        int i = 0;
        for (; i + 16 <= d; i += 16)
        {
            var v = Vector512.Load(x + i);
            acc = Vector512.FusedMultiplyAdd(v, v, acc);
        }
        float ss = Vector512.Sum(acc);
        for (; i < d; i++) ss += x[i] * x[i];
        float inv = 1f / MathF.Sqrt(ss / d + eps);
        var vi = Vector512.Create(inv);
        i = 0;
        for (; i + 16 <= d; i += 16) (Vector512.Load(x + i) * vi * Vector512.Load(w + i)).Store(y + i);
        for (; i < d; i++) y[i] = x[i] * inv * w[i];
    }

    /// <summary>Rotates one head in place: (a, b) -> (a cos - b sin, b cos + a sin) for a = v[i], b = v[i + half].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RotateHalf(float* v, float* cos, float* sin, int half)
    {
        float* u = v + half;
        int i = 0;
        for (; i + 16 <= half; i += 16)
        {
            var a = Vector512.Load(v + i);
            var b = Vector512.Load(u + i);
            var c = Vector512.Load(cos + i);
            var s = Vector512.Load(sin + i);
            (a * c - b * s).Store(v + i);
            (b * c + a * s).Store(u + i);
        }
        for (; i + 8 <= half; i += 8)
        {
            var a = Vector256.Load(v + i);
            var b = Vector256.Load(u + i);
            var c = Vector256.Load(cos + i);
            var s = Vector256.Load(sin + i);
            (a * c - b * s).Store(v + i);
            (b * c + a * s).Store(u + i);
        }
        for (; i < half; i++)
        {
            float a = v[i], b = u[i];
            v[i] = a * cos[i] - b * sin[i];
            u[i] = b * cos[i] + a * sin[i];
        }
    }

    /// <summary>Copies row <paramref name="row"/> of <paramref name="w"/> widened to float32.</summary>
    public static void WidenRow(in WeightMatrix w, int row, float* dst)
    {
        byte* src = (byte*)w.Data + row * w.RowBytes;
        switch (w.DType)
        {
            case DType.F32: Widen<F32Widener>(src, dst, w.Cols); break;
            case DType.F16: Widen<F16Widener>(src, dst, w.Cols); break;
            case DType.BF16: Widen<Bf16Widener>(src, dst, w.Cols); break;
            default: throw new NotSupportedException($"Weight dtype {w.DType} is not supported.");
        }
    }

    /// <summary>Widens <paramref name="n"/> elements at <paramref name="src"/> into <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Widen<TW>(byte* src, float* dst, long n) where TW : struct, IWeightWidener
    {
        // Rows can exceed int range only in theory; walk in int-sized pieces to keep the widener's int index.
        while (n > 0)
        {
            int m = (int)Math.Min(n, 1 << 30);
            int i = 0;
            for (; i + 16 <= m; i += 16) TW.Load16(src, i).Store(dst + i);
            for (; i < m; i++) dst[i] = TW.Load1(src, i);
            src += (long)m * TW.ElementSize;
            dst += m;
            n -= m;
        }
    }
}
