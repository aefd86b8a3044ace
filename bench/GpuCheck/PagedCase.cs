using PagedAttention.Kernels.Cpu;
using PagedAttention.Kernels.Cuda;
using static GpuCheck.Buffers;

namespace GpuCheck;

/// <summary>
/// One attention check case: sequences with given context and query lengths over a random paged cache (2 KV heads,
/// shuffled non-contiguous block tables), uploaded in the GPU layout [blocks, nkv, bs, hd], and the CPU reference
/// (<c>CpuOps.PagedAttention</c> over the same values in the CPU layout [blocks, bs, nkv, hd]).
/// </summary>
internal sealed class PagedCase : IDisposable
{
    public const int NumKvHeads = 2;

    private PagedCase(CudaDevice d, Random r, int hd, int g, int[] ctx, int[] qlens, int bs)
    {
        HeadDim = hd;
        NumHeads = NumKvHeads * g;
        Seqs = ctx.Length;
        BlockSize = bs;
        MaxBlocks = ctx.Max() / bs + 1;
        Tokens = qlens.Sum();
        int numBlocks = Seqs * MaxBlocks + 3, nkv = NumKvHeads, nh = NumHeads;
        var perm = Enumerable.Range(0, numBlocks).OrderBy(_ => r.Next()).ToArray();
        var tables = new int[Seqs * MaxBlocks];
        for (int i = 0; i < tables.Length; i++) tables[i] = perm[i];
        var (kf, kb) = Rand.Bf16(r, numBlocks * bs * nkv * hd);
        var (vf, vb) = Rand.Bf16(r, numBlocks * bs * nkv * hd);
        var q = Rand.Floats(r, Tokens * nh * hd, 2);
        var qs = new int[Seqs + 1];
        for (int s = 0; s < Seqs; s++) qs[s + 1] = qs[s] + qlens[s];
        using var cpu = new CpuKvCache(1, numBlocks, bs, nkv, hd);
        var layer = cpu.Layer(0);
        for (int slot = 0; slot < numBlocks * bs; slot++)
            for (int h = 0; h < nkv; h++)
                for (int i = 0; i < hd; i++)
                {
                    int gpu = (((slot / bs) * nkv + h) * bs + slot % bs) * hd + i;
                    layer.KeyRow(slot)[h * hd + i] = kf[gpu];
                    layer.ValueRow(slot)[h * hd + i] = vf[gpu];
                }
        Scale = 1f / MathF.Sqrt(hd);
        Want = new float[Tokens * nh * hd];
        CpuOps.PagedAttention(q, Want, nh, qs, ctx, tables, MaxBlocks, layer, Scale);
        Q = Up(d, q); K = Up(d, kb); V = Up(d, vb); QueryStarts = Up(d, qs); ContextLens = Up(d, ctx); Tables = Up(d, tables);
    }

    public static PagedCase Make(CudaDevice d, Random r, int hd, int g, int[] ctx, int[] qlens, int bs) => new(d, r, hd, g, ctx, qlens, bs);

    public int HeadDim { get; }
    public int NumHeads { get; }
    public int Seqs { get; }
    public int BlockSize { get; }
    public int MaxBlocks { get; }
    public int Tokens { get; }
    public float Scale { get; }

    /// <summary>The CPU reference output, [Tokens, NumHeads, HeadDim].</summary>
    public float[] Want { get; }

    public DeviceBuffer Q { get; }
    public DeviceBuffer K { get; }
    public DeviceBuffer V { get; }
    public DeviceBuffer QueryStarts { get; }
    public DeviceBuffer ContextLens { get; }
    public DeviceBuffer Tables { get; }

    public void Dispose()
    {
        foreach (var b in new[] { Q, K, V, QueryStarts, ContextLens, Tables }) b.Dispose();
    }
}
