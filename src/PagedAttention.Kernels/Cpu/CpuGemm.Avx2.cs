using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PagedAttention.Kernels.Cpu;

// The AVX2 (Vector256) copy of the tiles in CpuGemm.cs, generated from them by renaming: Vector512 -> Vector256,
// 16 -> 8 lanes. Keep the two in step. Same determinism argument: one accumulator per dot, fixed reduction.
internal static unsafe partial class CpuGemm
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Body256<TW>(void* context, int task) where TW : struct, IWeightWidener
    {
        ref Job j = ref *(Job*)context;
        int o0 = task * j.Chunk, o1 = Math.Min(o0 + j.Chunk, j.N);
        int k = j.K, n = j.N, rows = j.Rows;
        long wStride = (long)k * TW.ElementSize;
        for (int oc = o0; oc < o1; oc += SubChunk)
        {
            int oe = Math.Min(oc + SubChunk, o1);
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                float* xr = j.X + (long)r * k;
                float* yr = j.Y + (long)r * n;
                int o = oc;
                for (; o + 4 <= oe; o += 4) Tile4x4256<TW>(xr, k, j.W + o * wStride, wStride, yr + o, n);
                for (; o < oe; o++) Tile4x1256<TW>(xr, k, j.W + o * wStride, yr + o, n);
            }
            for (; r < rows; r++)
            {
                float* xr = j.X + (long)r * k;
                float* yr = j.Y + (long)r * n;
                int o = oc;
                for (; o + 4 <= oe; o += 4) Tile1x4256<TW>(xr, k, j.W + o * wStride, wStride, yr + o);
                for (; o < oe; o++) yr[o] = Tile1x1256<TW>(xr, k, j.W + o * wStride);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish256<TW>(Vector256<float> acc, float* x, byte* w, int from, int k) where TW : struct, IWeightWidener
    {
        float s = Vector256.Sum(acc);
        for (int i = from; i < k; i++) s += x[i] * TW.Load1(w, i);
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4256<TW>(float* x0, int k, byte* w0, long ws, float* y, int n) where TW : struct, IWeightWidener
    {
        float* x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        byte* w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws;
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector256<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector256<float> c30 = default, c31 = default, c32 = default, c33 = default;
        int kv = k & ~7, i = 0;
        for (; i < kv; i += 8)
        {
            var b0 = TW.Load8(w0, i);
            var b1 = TW.Load8(w1, i);
            var b2 = TW.Load8(w2, i);
            var b3 = TW.Load8(w3, i);
            var a = Vector256.Load(x0 + i);
            c00 = Vector256.FusedMultiplyAdd(a, b0, c00); c01 = Vector256.FusedMultiplyAdd(a, b1, c01);
            c02 = Vector256.FusedMultiplyAdd(a, b2, c02); c03 = Vector256.FusedMultiplyAdd(a, b3, c03);
            a = Vector256.Load(x1 + i);
            c10 = Vector256.FusedMultiplyAdd(a, b0, c10); c11 = Vector256.FusedMultiplyAdd(a, b1, c11);
            c12 = Vector256.FusedMultiplyAdd(a, b2, c12); c13 = Vector256.FusedMultiplyAdd(a, b3, c13);
            a = Vector256.Load(x2 + i);
            c20 = Vector256.FusedMultiplyAdd(a, b0, c20); c21 = Vector256.FusedMultiplyAdd(a, b1, c21);
            c22 = Vector256.FusedMultiplyAdd(a, b2, c22); c23 = Vector256.FusedMultiplyAdd(a, b3, c23);
            a = Vector256.Load(x3 + i);
            c30 = Vector256.FusedMultiplyAdd(a, b0, c30); c31 = Vector256.FusedMultiplyAdd(a, b1, c31);
            c32 = Vector256.FusedMultiplyAdd(a, b2, c32); c33 = Vector256.FusedMultiplyAdd(a, b3, c33);
        }
        float* y1 = y + n, y2 = y1 + n, y3 = y2 + n;
        y[0] = Finish256<TW>(c00, x0, w0, i, k); y[1] = Finish256<TW>(c01, x0, w1, i, k);
        y[2] = Finish256<TW>(c02, x0, w2, i, k); y[3] = Finish256<TW>(c03, x0, w3, i, k);
        y1[0] = Finish256<TW>(c10, x1, w0, i, k); y1[1] = Finish256<TW>(c11, x1, w1, i, k);
        y1[2] = Finish256<TW>(c12, x1, w2, i, k); y1[3] = Finish256<TW>(c13, x1, w3, i, k);
        y2[0] = Finish256<TW>(c20, x2, w0, i, k); y2[1] = Finish256<TW>(c21, x2, w1, i, k);
        y2[2] = Finish256<TW>(c22, x2, w2, i, k); y2[3] = Finish256<TW>(c23, x2, w3, i, k);
        y3[0] = Finish256<TW>(c30, x3, w0, i, k); y3[1] = Finish256<TW>(c31, x3, w1, i, k);
        y3[2] = Finish256<TW>(c32, x3, w2, i, k); y3[3] = Finish256<TW>(c33, x3, w3, i, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1256<TW>(float* x0, int k, byte* w0, float* y, int n) where TW : struct, IWeightWidener
    {
        float* x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        int kv = k & ~7, i = 0;
        for (; i < kv; i += 8)
        {
            var b = TW.Load8(w0, i);
            c0 = Vector256.FusedMultiplyAdd(Vector256.Load(x0 + i), b, c0);
            c1 = Vector256.FusedMultiplyAdd(Vector256.Load(x1 + i), b, c1);
            c2 = Vector256.FusedMultiplyAdd(Vector256.Load(x2 + i), b, c2);
            c3 = Vector256.FusedMultiplyAdd(Vector256.Load(x3 + i), b, c3);
        }
        y[0] = Finish256<TW>(c0, x0, w0, i, k);
        y[n] = Finish256<TW>(c1, x1, w0, i, k);
        y[2 * n] = Finish256<TW>(c2, x2, w0, i, k);
        y[3 * n] = Finish256<TW>(c3, x3, w0, i, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x4256<TW>(float* x, int k, byte* w0, long ws, float* y) where TW : struct, IWeightWidener
    {
        byte* w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws;
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        int kv = k & ~7, i = 0;
        for (; i < kv; i += 8)
        {
            var a = Vector256.Load(x + i);
            c0 = Vector256.FusedMultiplyAdd(a, TW.Load8(w0, i), c0);
            c1 = Vector256.FusedMultiplyAdd(a, TW.Load8(w1, i), c1);
            c2 = Vector256.FusedMultiplyAdd(a, TW.Load8(w2, i), c2);
            c3 = Vector256.FusedMultiplyAdd(a, TW.Load8(w3, i), c3);
        }
        y[0] = Finish256<TW>(c0, x, w0, i, k);
        y[1] = Finish256<TW>(c1, x, w1, i, k);
        y[2] = Finish256<TW>(c2, x, w2, i, k);
        y[3] = Finish256<TW>(c3, x, w3, i, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Tile1x1256<TW>(float* x, int k, byte* w) where TW : struct, IWeightWidener
    {
        Vector256<float> c = default;
        int kv = k & ~7, i = 0;
        for (; i < kv; i += 8) c = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), TW.Load8(w, i), c);
        return Finish256<TW>(c, x, w, i, k);
    }
}
