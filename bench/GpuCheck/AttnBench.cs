using PagedAttention.Kernels.Cuda;

namespace GpuCheck;

/// <summary>
/// Microbenchmark of the paged decode attention kernel alone, Llama-3.2-1B and Llama-3-8B shapes (32 q / 8 KV heads, head dim 64 / 128,
/// bf16 KV, 16-token pages, shuffled block tables): TB/s of K+V read (context × 8 heads × head dim × 2 B × 2 per sequence,
/// over the kernel time incl. the split merge) for batch 1/64/256 at contexts 512/2048/8192, per kernel variant, and for
/// the FP8 KV cache's kernel (paged_attention_fp8: 1 B per element, TB/s of the FP8 bytes).
/// Small cases (under ~50 MB of K+V) partly hit in the 50 MB L2.
/// </summary>
internal static unsafe class AttnBench
{
    public static void Run(CudaDevice d)
    {
        RunShape(d, 64, 4, 8);   // Llama-3.2-1B
        RunShape(d, 128, 4, 8);  // Llama-3-8B
    }

    private static void RunShape(CudaDevice d, int hd, int g, int nkv)
    {
        const int bs = 16;
        int nh = nkv * g;
        int[] batches = [1, 64, 256], contexts = [512, 2048, 8192];
        long maxBlocks = (long)batches.Max() * (contexts.Max() / bs + 1);
        long kvBytes = maxBlocks * bs * nkv * hd * 2;
        using var k = new CudaKernels(d, hd, g, Program.Switches);
        using var kc = d.Allocate(kvBytes);
        using var vc = d.Allocate(kvBytes);
        var r = new Random(1);
        var chunk = new ushort[8 << 20];
        for (int i = 0; i < chunk.Length; i++) chunk[i] = (ushort)(0x3c00 + r.Next(0x0800) - 0x0400 + (r.Next(2) << 15)); // |x| in ~[2^-8, 2^8)
        foreach (var buf in new[] { kc, vc })
            for (long off = 0; off < kvBytes; off += chunk.Length * 2L)
                buf.Upload<ushort>(chunk.AsSpan(0, (int)Math.Min(chunk.Length, (kvBytes - off) / 2)), off);
        Console.WriteLine($"attn-bench: hd={hd} g={g} nkv={nkv} bs={bs}; {2 * kvBytes / 1e9:F2} GB of K+V on device; variants v1=CUDA-core tiled U8 v2=U4+prefetch v3=U2+prefetch v4=v2 at <=128 regs v5..v7=wide (16 dims per lane) U4, U2+prefetch, U8 v8..v10=tensor-core GQA (16-key tiles x1, x1+prefetch, x2) v-1=auto (v3 at <= 4 CTAs/SM without splits, else v1); v0=default (v10 where the tensor-core kernels run, else v1); fp8kv v1/v5/v6/v7 the same CUDA-core tiles over E4M3 codes, fp8kv v8..v10 tensor-core (x2, x1+prefetch, x4), fp8kv v0 default (v8, else v1); prefill-kernel[-fp8kv][-fast]: prefill_attention (tensor cores, precise or fast) on the same decode rows");
        foreach (int b in batches)
            foreach (int ctx in contexts)
            {
                int blocksPerSeq = ctx / bs + 1;
                var perm = Enumerable.Range(0, (int)Math.Min(maxBlocks, (long)b * blocksPerSeq * 2)).OrderBy(_ => r.Next()).ToArray();
                var tables = new int[b * blocksPerSeq];
                for (int i = 0; i < tables.Length; i++) tables[i] = perm[i];
                var qs = Enumerable.Range(0, b + 1).ToArray();
                var ctxs = Enumerable.Repeat(ctx, b).ToArray();
                var q = new float[b * nh * hd];
                for (int i = 0; i < q.Length; i++) q[i] = (float)(r.NextDouble() * 2 - 1);
                using var dq = d.Allocate(q.Length * 4L); dq.Upload<float>(q);
                using var dqs = d.Allocate(qs.Length * 4L); dqs.Upload<int>(qs);
                using var dc = d.Allocate(ctxs.Length * 4L); dc.Upload<int>(ctxs);
                using var dt = d.Allocate(tables.Length * 4L); dt.Upload<int>(tables);
                using var o = d.Allocate(b * nh * hd * 2L);
                int splits = k.PlanSplits(b, nkv, ctx);
                using var ws = d.Allocate(Math.Max(1, k.AttentionWorkspaceBytes(b, nh, splits)));
                double bytes = (double)b * ctx * nkv * hd * 2 * 2;
                var line = new System.Text.StringBuilder($"attn-bench b={b,3} ctx={ctx,4}:");
                foreach (int v in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -1, 0 })
                {
                    k.AttentionVariant = v;
                    void Once() => k.PagedAttention(dq.Ptr, o.Ptr, kc.Ptr, vc.Ptr, dqs.Ptr, dc.Ptr, dt.Ptr, b, b, nh, nkv, bs, blocksPerSeq, 0.125f, splits, ws.Ptr);
                    Once(); Once();
                    int iters = 20;
                    float ms = d.Time(() => { for (int i = 0; i < iters; i++) Once(); }) / iters;
                    line.Append($"  v{v}(s={splits}) {ms * 1e3,7:F1} us {bytes / (ms * 1e-3) / 1e12,5:F2} TB/s");
                }
                foreach (int v in new[] { 1, 5, 6, 7, 8, 9, 10, 0 })
                {
                    // The FP8 KV cache's kernels over the same buffers read as E4M3 codes (half the bytes per key; NaN codes
                    // among the random bytes do not change the timing).
                    k.AttentionVariant = v;
                    void Fp8() => k.PagedAttention(dq.Ptr, o.Ptr, kc.Ptr, vc.Ptr, dqs.Ptr, dc.Ptr, dt.Ptr, b, b, nh, nkv, bs, blocksPerSeq, 0.125f, splits, ws.Ptr, fp8: new KvScales(1f, 1f));
                    Fp8(); Fp8();
                    int iters = 20;
                    float ms = d.Time(() => { for (int i = 0; i < iters; i++) Fp8(); }) / iters;
                    line.Append($"  fp8kv-v{v}(s={splits}) {ms * 1e3,7:F1} us {bytes / 2 / (ms * 1e-3) / 1e12,5:F2} TB/s");
                }
                k.AttentionVariant = 0;
                if (k.SupportsPrefillAttention)
                    foreach (bool fp8 in new[] { false, true })
                        foreach (bool precise in new[] { true, false })
                        {
                            // The tensor-core prefill kernel on the same decode rows (one query token per sequence, GROUP
                            // packed rows of a 64-row tile, no KV splits): what a GQA decode on tensor cores could start from.
                            void Pf() => k.PrefillAttention(dq.Ptr, o.Ptr, kc.Ptr, vc.Ptr, dqs.Ptr, dc.Ptr, dt.Ptr, b, 1, nh, nkv, bs, blocksPerSeq, 0.125f,
                                precise, skipDecode: false, fp8: fp8 ? new KvScales(1f, 1f) : null);
                            Pf(); Pf();
                            int iters = 20;
                            float ms = d.Time(() => { for (int i = 0; i < iters; i++) Pf(); }) / iters;
                            line.Append($"  prefill-kernel{(fp8 ? "-fp8kv" : "")}{(precise ? "" : "-fast")} {ms * 1e3,7:F1} us {bytes / (fp8 ? 2 : 1) / (ms * 1e-3) / 1e12,5:F2} TB/s");
                        }
                Console.WriteLine(line);
            }
    }
}
