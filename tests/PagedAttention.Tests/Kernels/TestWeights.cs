using System.Runtime.InteropServices;
using PagedAttention.Kernels;

namespace PagedAttention.Tests.Kernels;

/// <summary>A random weight matrix of a given dtype in native memory, for kernel tests.</summary>
internal sealed unsafe class TestWeights : IDisposable
{
    private readonly void* _data;

    public TestWeights(DType dtype, int rows, int cols, Random rng, float range = 1f)
    {
        long n = (long)rows * cols;
        _data = NativeMemory.AlignedAlloc((nuint)(n * dtype.SizeInBytes() + 64), 64);
        for (long i = 0; i < n; i++)
        {
            float v = (float)(rng.NextDouble() * 2 - 1) * range;
            switch (dtype)
            {
                case DType.F32: ((float*)_data)[i] = v; break;
                case DType.F16: ((Half*)_data)[i] = (Half)v; break;
                case DType.BF16: ((ushort*)_data)[i] = (ushort)(BitConverter.SingleToInt32Bits(v) >> 16); break;
            }
        }
        Matrix = new WeightMatrix((nint)_data, dtype, rows, cols);
    }

    public WeightMatrix Matrix { get; }

    public void Dispose() => NativeMemory.AlignedFree(_data);

    public static float[] RandomVector(Random rng, int n, float range = 1f)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * range;
        return v;
    }
}
