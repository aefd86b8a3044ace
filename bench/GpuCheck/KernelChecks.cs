using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;
using PagedAttention.Kernels.Cuda;

using static GpuCheck.Buffers;

namespace GpuCheck;

/// <summary>Each CUDA kernel (and the cuBLAS GEMM) against the CPU reference (CpuOps) on seeded random inputs.</summary>
internal static unsafe class KernelChecks
{
    // bf16 has an 8-bit mantissa: a rounded output is within 2^-8 relative of the exact value.
    private const float Bf16Rel = 1f / 128;

    public static void Run(CudaDevice d, Report rep)
    {
        rep.Run("gemm", () => Gemm(d, rep));
        using (var k0 = new CudaKernels(d, 64, 8, Program.Switches)) SamplerChecks.Run(d, k0, rep);
        foreach (var (hd, g) in new[] { (16, 2), (32, 2), (64, 8), (128, 4), (128, 1) })
        {
            using var k = new CudaKernels(d, hd, g, Program.Switches);
            rep.Run($"embedding hd={hd}", () => Embedding(d, k, rep));
            foreach (int h in new[] { 200, 203 }) // float4 path and scalar path
                rep.Run($"add_rmsnorm hd={hd} d={h}", () => AddRmsNorm(d, k, rep, h));
            rep.Run($"rope_kv hd={hd} g={g}", () => RopeKv(d, k, rep, hd, g));
            foreach (int inter in new[] { 333, 336 }) // scalar path and 16-byte path
                rep.Run($"silu_mul hd={hd} inter={inter}", () => SiluMul(d, k, rep, inter));
            rep.Run($"argmax hd={hd}", () => Argmax(d, k, rep));
            foreach (int variant in new[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 })
            {
                if (variant >= 8 && !k.SupportsMmaDecode) continue; // the tensor-core kernels would run the default
                k.AttentionVariant = variant;
                foreach (int splits in new[] { 1, 3, 16 })
                {
                    rep.Run($"attention decode hd={hd} g={g} splits={splits} v{variant}", () => Attention(d, k, rep, hd, g, [1, 17, 300, 1000, 2100], [1, 1, 1, 1, 1], splits));
                    rep.Run($"attention prefill hd={hd} g={g} splits={splits} v{variant}", () => Attention(d, k, rep, hd, g, [33, 40, 5], [33, 5, 5], splits));
                }
            }
            k.AttentionVariant = 0;
        }
    }

    private static void Gemm(CudaDevice d, Report rep)
    {
        // Every GEMM path: cublasGemmEx, cuBLASLt with the heuristic's choice per bucket, cuBLASLt with the timed search.
        // Rows are visited so that some calls reuse an algorithm chosen for a larger M of the same bucket (512 -> 300,
        // 8 -> 7 -> 5) and fp32 and bf16 outputs are both checked.
        var blas = d.Blas;
        bool lt0 = blas.UseLt, timed0 = blas.TimedAlgorithmSearch;
        try
        {
            foreach (var (mode, useLt, timed) in new[] { ("cublasGemmEx", false, false), ("cuBLASLt heuristic", true, false), ("cuBLASLt timed", true, true) })
            {
                blas.UseLt = useLt;
                blas.TimedAlgorithmSearch = timed;
                var r = new Random(1);
                foreach (var (m, n, k) in new[] { (1, 384, 256), (8, 1000, 320), (7, 1000, 320), (5, 1000, 320), (64, 512, 2048), (512, 768, 512), (300, 768, 512) })
                    foreach (bool f32 in new[] { true, false })
                    {
                        var (xf, xb) = Rand.Bf16(r, m * k);
                        var (wf, wb) = Rand.Bf16(r, n * k);
                        var want = new float[m * n];
                        fixed (float* wp = wf) CpuOps.MatMul(xf, m, new WeightMatrix((nint)wp, DType.F32, n, k), want);
                        using var x = Up(d, xb);
                        using var w = Up(d, wb);
                        using var y = d.Allocate(m * n * 4L);
                        blas.Gemm(x.Ptr, w.Ptr, y.Ptr, m, n, k, f32);
                        float[] got = f32 ? y.ToArray<float>() : Rand.Widen(y.ToArray<ushort>()[..(m * n)]);
                        float e = Rand.RelErr(got, want);
                        float tol = f32 ? 1e-4f : 4e-3f; // bf16 output: one rounding, 2^-9 relative per element
                        rep.Check($"gemm {mode} m={m} n={n} k={k} out={(f32 ? "f32" : "bf16")}", e < tol, $"rel err {e:E2} (fp32 accumulation, order differs; tolerance {tol:E0})");
                    }
                if (useLt) Console.WriteLine($"INFO {mode}: {blas.NumPlans} plans: {string.Join("; ", blas.DescribePlans())}");
            }
        }
        finally
        {
            blas.UseLt = lt0;
            blas.TimedAlgorithmSearch = timed0;
        }
    }

    private static void Embedding(CudaDevice d, CudaKernels k, Report rep)
    {
        var r = new Random(2);
        int vocab = 300, h = 96, n = 9;
        var (tf, tb) = Rand.Bf16(r, vocab * h);
        var ids = Enumerable.Range(0, n).Select(_ => r.Next(vocab)).ToArray();
        var want = new float[n * h];
        fixed (float* tp = tf) CpuOps.Embedding(ids, new WeightMatrix((nint)tp, DType.F32, vocab, h), want);
        using var dIds = Up(d, ids); using var dt = Up(d, tb); using var o = d.Allocate(n * h * 4L);
        k.Embedding(dIds.Ptr, dt.Ptr, o.Ptr, n, h);
        rep.Check("embedding", Rand.MaxAbs(o.ToArray<float>(), want) == 0, "exact");
    }

    private static void AddRmsNorm(CudaDevice d, CudaKernels k, Report rep, int h)
    {
        var r = new Random(3);
        int n = 5;
        var res = Rand.Floats(r, n * h, 3); var delta = Rand.Floats(r, n * h); var bias = Rand.Floats(r, h, 0.1f); var w = Rand.Floats(r, h);
        var sum = new float[n * h];
        for (int i = 0; i < sum.Length; i++) sum[i] = res[i] + delta[i] + bias[i % h];
        var want = new float[n * h];
        CpuOps.RmsNorm(sum, w, 1e-5f, want);
        using var dr = Up(d, res); using var dd = Up(d, delta); using var db = Up(d, bias); using var dw = Up(d, w);
        using var o = d.Allocate(n * h * 2L);
        k.FusedAddRmsNorm(dr.Ptr, dd.Ptr, db.Ptr, dw.Ptr, o.Ptr, 0, n, h, 1e-5f);
        float eRes = Rand.MaxAbs(dr.ToArray<float>(), sum), eOut = Rand.RelErr(Rand.Widen(o.ToArray<ushort>()), want);
        rep.Check($"fused_add_rms_norm d={h}", eRes < 1e-6f && eOut <= Bf16Rel, $"residual max err {eRes:E1}, output rel err {eOut:E2} (bf16 out)");
        // Row-gather mode: rows 2 and 4 (row_ends 3 and 5), no delta.
        using var ends = Up(d, new[] { 3, 5 });
        using var o2 = d.Allocate(2 * h * 2L);
        k.FusedAddRmsNorm(dr.Ptr, 0, 0, dw.Ptr, o2.Ptr, ends.Ptr, 2, h, 1e-5f);
        var got2 = Rand.Widen(o2.ToArray<ushort>());
        var want2 = want.AsSpan(2 * h, h).ToArray().Concat(want.AsSpan(4 * h, h).ToArray()).ToArray();
        float e2 = Rand.RelErr(got2, want2);
        rep.Check($"fused_add_rms_norm last rows d={h}", e2 <= Bf16Rel, $"rel err {e2:E2}");
    }

    private static void RopeKv(CudaDevice d, CudaKernels k, Report rep, int hd, int g)
    {
        var r = new Random(4);
        int nkv = 2, nh = nkv * g, n = 6, bs = 4, blocks = 5, width = (nh + 2 * nkv) * hd;
        var (qkv, qkvBits) = Rand.Bf16(r, n * width, 2); var bias = Rand.Floats(r, width, 0.2f); // the QKV GEMM writes bf16
        var qn = Rand.Floats(r, hd); var kn = Rand.Floats(r, hd);
        var inv = Enumerable.Range(0, hd / 2).Select(i => 1f / MathF.Pow(10000f, 2f * i / hd)).ToArray();
        int[] pos = [0, 1, 2, 7, 100, 4000], slots = [13, 2, -1, 19, 0, 8];
        // CPU: split, bias, per-head norm, rope, write.
        var q = new float[n * nh * hd]; var kk = new float[n * nkv * hd]; var v = new float[n * nkv * hd];
        for (int t = 0; t < n; t++)
            for (int c = 0; c < width; c++)
            {
                float x = qkv[t * width + c] + bias[c];
                if (c < nh * hd) q[t * nh * hd + c] = x;
                else if (c < (nh + nkv) * hd) kk[t * nkv * hd + c - nh * hd] = x;
                else v[t * nkv * hd + c - (nh + nkv) * hd] = x;
            }
        CpuOps.RmsNorm(q, qn, 1e-6f, q); CpuOps.RmsNorm(kk, kn, 1e-6f, kk);
        CpuOps.Rope(q, nh, hd, pos, inv); CpuOps.Rope(kk, nkv, hd, pos, inv);
        using var dq = Up(d, qkvBits); using var db = Up(d, bias); using var dqn = Up(d, qn); using var dkn = Up(d, kn); using var di = Up(d, inv);
        using var dp = Up(d, pos); using var ds = Up(d, slots); using var qo = d.Allocate(n * nh * hd * 4L);
        using var kc = d.Allocate(blocks * bs * nkv * hd * 2L); using var vc = d.Allocate(blocks * bs * nkv * hd * 2L);
        kc.Clear(); vc.Clear();
        k.RopeQkvWrite(dq.Ptr, db.Ptr, dqn.Ptr, dkn.Ptr, di.Ptr, dp.Ptr, ds.Ptr, qo.Ptr, kc.Ptr, vc.Ptr, n, nh, nkv, bs, 1e-6f);
        float eq = Rand.RelErr(qo.ToArray<float>(), q);
        var gk = kc.ToArray<ushort>(); var gv = vc.ToArray<ushort>();
        float ek = 0; int written = 0;
        var touched = new bool[gk.Length];
        for (int t = 0; t < n; t++)
        {
            if (slots[t] < 0) continue;
            int blk = slots[t] / bs, off = slots[t] % bs;
            for (int h = 0; h < nkv; h++)
                for (int i = 0; i < hd; i++)
                {
                    int at = ((blk * nkv + h) * bs + off) * hd + i;
                    touched[at] = true;
                    ek = MathF.Max(ek, MathF.Abs(Rand.FromBf16(gk[at]) - kk[(t * nkv + h) * hd + i]) / (MathF.Abs(kk[(t * nkv + h) * hd + i]) + 1e-3f));
                    ek = MathF.Max(ek, MathF.Abs(Rand.FromBf16(gv[at]) - v[(t * nkv + h) * hd + i]) / (MathF.Abs(v[(t * nkv + h) * hd + i]) + 1e-3f));
                    written++;
                }
        }
        bool untouchedZero = Enumerable.Range(0, gk.Length).All(i => touched[i] || (gk[i] == 0 && gv[i] == 0));
        rep.Check("rope_qkv_write q", eq < 1e-4f, $"rel err {eq:E2} (positions up to 4000)");
        rep.Check("rope_qkv_write kv", ek <= Bf16Rel && untouchedZero, $"{written} cache values, rel err {ek:E2}; slot -1 and unused slots untouched: {untouchedZero}");
    }

    private static void SiluMul(CudaDevice d, CudaKernels k, Report rep, int inter)
    {
        var r = new Random(5);
        int n = 3;
        var (gu, guBits) = Rand.Bf16(r, n * 2 * inter, 6); // the gate|up GEMM writes bf16
        var gate = new float[n * inter]; var up = new float[n * inter]; var want = new float[n * inter];
        for (int t = 0; t < n; t++)
            for (int i = 0; i < inter; i++) { gate[t * inter + i] = gu[t * 2 * inter + i]; up[t * inter + i] = gu[t * 2 * inter + inter + i]; }
        CpuOps.SiluMul(gate, up, want);
        using var dg = Up(d, guBits); using var o = d.Allocate(n * inter * 2L);
        k.SiluMul(dg.Ptr, o.Ptr, n, inter);
        float e = Rand.RelErr(Rand.Widen(o.ToArray<ushort>()), want);
        rep.Check($"silu_mul inter={inter}", e <= Bf16Rel, $"rel err {e:E2}");
    }

    private static void Argmax(CudaDevice d, CudaKernels k, Report rep)
    {
        var r = new Random(6);
        int rows = 4, vocab = 50000;
        var logits = Rand.Floats(r, rows * vocab, 10);
        logits[1 * vocab + 40000] = 50; logits[1 * vocab + 30000] = 50; // a tie: the lower index wins
        logits[3 * vocab + vocab - 1] = 60;
        var want = new int[rows];
        for (int i = 0; i < rows; i++)
        {
            var row = logits.AsSpan(i * vocab, vocab);
            int best = 0;
            for (int j = 1; j < vocab; j++) if (row[j] > row[best]) best = j;
            want[i] = best;
        }
        using var dl = Up(d, logits); using var ids = d.Allocate(rows * 4L);
        k.Argmax(dl.Ptr, ids.Ptr, rows, vocab);
        var got = ids.ToArray<int>();
        rep.Check("argmax_rows", got.SequenceEqual(want), $"got [{string.Join(",", got)}] want [{string.Join(",", want)}]");
    }

    /// <summary>Several sequences with given context and query lengths, random non-contiguous block tables.</summary>
    private static void Attention(CudaDevice d, CudaKernels k, Report rep, int hd, int g, int[] ctx, int[] qlens, int splits)
    {
        using var c = PagedCase.Make(d, new Random(7 + hd + splits), hd, g, ctx, qlens, 16);
        int n = c.Tokens, nh = c.NumHeads;
        var want = c.Want;
        using var o = d.Allocate(n * nh * hd * 2L);
        using var ws = d.Allocate(Math.Max(1, k.AttentionWorkspaceBytes(n, nh, splits)));
        k.PagedAttention(c.Q.Ptr, o.Ptr, c.K.Ptr, c.V.Ptr, c.QueryStarts.Ptr, c.ContextLens.Ptr, c.Tables.Ptr, n, c.Seqs, nh, PagedCase.NumKvHeads,
            c.BlockSize, c.MaxBlocks, c.Scale, splits, ws.Ptr);
        float e = Rand.RelErr(Rand.Widen(o.ToArray<ushort>()), want);
        rep.Check($"paged_attention v{k.AttentionVariant} hd={hd} g={g} ctx=[{string.Join(",", ctx)}] q=[{string.Join(",", qlens)}] splits={splits}", e <= Bf16Rel, $"rel err {e:E2}");
    }
}
