using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;
using PagedAttention.Kernels.Cuda;
using static GpuCheck.Buffers;

namespace GpuCheck;

/// <summary>
/// The FP8 E4M3 KV cache's kernels against CPU references (issue 18, items 3 and 7), <c>GpuCheck --kv-fp8</c>:
/// <list type="bullet">
/// <item>rope_qkv_write_fp8: every written code decodes to the CPU's rotated k/v within half an E4M3 step (plus the
/// slack of bf16 inputs), magnitudes past 448 × scale saturate to ±448, padding slots (−1) and unused slots stay 0.</item>
/// <item>paged_attention_fp8 (decode rows, 1 and 8 KV splits) and prefill_attention_fp8 (precise, fast, and mixed with
/// decode rows) over a cache of random E4M3 codes (subnormals, normals, saturated ±448) with per-layer scales, against <c>CpuOps.PagedAttention</c> over the
/// same codes decoded on the host (<see cref="Fp8KvCache.Decode"/>) in fp32: GQA groups 1/4/8, head sizes 64/128,
/// contexts 1 to 16,384, sequences that share their first blocks (a cached prefix), shuffled block tables, a few
/// saturated codes. The kernels read exactly those values, so the bound is the bf16 one of the existing attention
/// checks: 2⁻⁷ of the largest |output| for decode and fast prefill, 2⁻⁸ for precise prefill (and every row within twice
/// that of its own largest |output|).</item>
/// </list>
/// </summary>
internal static class KvFp8Checks
{
    private const float DecodeBound = 1f / 128, PreciseBound = 1f / 256, FastBound = 1f / 128;
    private const int NumKvHeads = 2;

    public static void Run(CudaDevice d, Report rep)
    {
        foreach (var (hd, g) in new[] { (64, 1), (64, 4), (64, 8), (128, 1), (128, 4), (128, 8) })
        {
            using var k = new CudaKernels(d, hd, g, Program.Switches);
            rep.Run($"kv fp8 write hd={hd} g={g}", () => CheckWrite(d, k, rep, hd, g));
            // Decode: one query token per sequence; sequence 5 shares 128 blocks with sequence 0, 6 shares 18 with 3.
            rep.Run($"kv fp8 decode hd={hd} g={g}", () =>
            {
                int[] ctx = [16384, 1, 17, 300, 1000, 4096, 3000];
                using var c = Fp8Case.Make(d, new Random(181 + hd + g), hd, g, ctx, [.. ctx.Select(_ => 1)], 16, [(5, 0, 128), (6, 3, 18)]);
                foreach (int variant in new[] { 0, 1, 5, 6, 7, 8, 9, 10 }) // the default tile, the wide variants, the tensor-core ones
                {
                    if (variant >= 8 && !k.SupportsMmaDecodeFp8) continue;
                    k.AttentionVariant = variant;
                    foreach (int splits in new[] { 1, 8 }) Decode(d, k, rep, c, splits);
                }
                k.AttentionVariant = 0;
            });
            if (!k.SupportsPrefillAttention) { rep.Check($"prefill_attention_fp8 hd={hd} g={g}", false, "not supported on this device"); continue; }
            rep.Run($"kv fp8 prefill hd={hd} g={g}", () =>
            {
                // Full prefills, appends over cached prefixes, a decode row, partial blocks, and 64 rows over 16,320 cached keys;
                // sequence 5 shares its first 18 blocks with sequence 0.
                int[] ctx = [300, 77, 1, 130, 64, 520, 16, 16384], q = [300, 20, 1, 65, 17, 333, 16, 64];
                using var c = Fp8Case.Make(d, new Random(281 + hd + g), hd, g, ctx, q, 16, [(5, 0, 18)]);
                Prefill(d, k, rep, c, precise: true, mixed: false);
                Prefill(d, k, rep, c, precise: false, mixed: false);
                Prefill(d, k, rep, c, precise: true, mixed: true);
            });
        }
    }

    private static void Decode(CudaDevice d, CudaKernels k, Report rep, Fp8Case c, int splits)
    {
        int n = c.Tokens, nh = c.NumHeads, hd = c.HeadDim;
        using var o = d.Allocate(n * nh * hd * 2L);
        o.Upload(Enumerable.Repeat((ushort)0x7fc0, n * nh * hd).ToArray()); // NaN: every row must be written
        using var ws = d.Allocate(Math.Max(1, k.AttentionWorkspaceBytes(n, nh, splits)));
        k.PagedAttention(c.Q.Ptr, o.Ptr, c.K.Ptr, c.V.Ptr, c.QueryStarts.Ptr, c.ContextLens.Ptr, c.Tables.Ptr, n, c.Seqs, nh, NumKvHeads,
            c.BlockSize, c.MaxBlocks, c.Scale, splits, ws.Ptr, fp8: c.Scales);
        Compare(rep, $"paged_attention_fp8 v{k.AttentionVariant} hd={hd} g={c.Group} splits={splits} ctx=[{string.Join(",", c.Contexts)}] shared prefixes",
            Rand.Widen(o.ToArray<ushort>()), c, DecodeBound);
    }

    private static void Prefill(CudaDevice d, CudaKernels k, Report rep, Fp8Case c, bool precise, bool mixed)
    {
        int n = c.Tokens, nh = c.NumHeads, hd = c.HeadDim;
        using var o = d.Allocate(n * nh * hd * 2L);
        o.Upload(Enumerable.Repeat((ushort)0x7fc0, n * nh * hd).ToArray());
        using var ws = d.Allocate(Math.Max(1, k.AttentionWorkspaceBytes(n, nh, 3)));
        if (mixed)
            k.PagedAttention(c.Q.Ptr, o.Ptr, c.K.Ptr, c.V.Ptr, c.QueryStarts.Ptr, c.ContextLens.Ptr, c.Tables.Ptr, n, c.Seqs, nh, NumKvHeads,
                c.BlockSize, c.MaxBlocks, c.Scale, 3, ws.Ptr, skipPrefill: true, fp8: c.Scales);
        k.PrefillAttention(c.Q.Ptr, o.Ptr, c.K.Ptr, c.V.Ptr, c.QueryStarts.Ptr, c.ContextLens.Ptr, c.Tables.Ptr, c.Seqs, c.QueryLens.Max(), nh, NumKvHeads,
            c.BlockSize, c.MaxBlocks, c.Scale, precise, skipDecode: mixed, fp8: c.Scales);
        Compare(rep, $"prefill_attention_fp8 {(mixed ? "mixed+decode " : "")}{(precise ? "precise" : "fast")} hd={hd} g={c.Group} ctx=[{string.Join(",", c.Contexts)}] q=[{string.Join(",", c.QueryLens)}]",
            Rand.Widen(o.ToArray<ushort>()), c, precise ? PreciseBound : FastBound);
    }

    private static void Compare(Report rep, string name, float[] got, Fp8Case c, float bound)
    {
        bool finite = got.All(float.IsFinite);
        float e = Rand.RelErr(got, c.Want), worstRow = 0;
        int hd = c.HeadDim;
        for (int row = 0; row < got.Length / hd; row++)
            worstRow = MathF.Max(worstRow, Rand.RelErr(got.AsSpan(row * hd, hd), c.Want.AsSpan(row * hd, hd)));
        // Rows over long contexts average towards 0, so each row is also held to twice the bound at its own scale.
        rep.Check(name, finite && e <= bound && worstRow <= 2 * bound,
            $"rel err {e:E2} (bound {bound:E2}); worst row at its own scale {worstRow:E2} (bound {2 * bound:E2}); all finite: {finite}");
    }

    // RoPE + FP8 cache write: k/v per head, no bias or norms (the bf16 checks cover those, and the FP8 kernel shares that
    // code), positions up to 4000, a padding slot, and k/v scales small enough that some codes saturate.
    private static void CheckWrite(CudaDevice d, CudaKernels k, Report rep, int hd, int g)
    {
        var r = new Random(5 + hd + g);
        int nh = NumKvHeads * g, n = 6, bs = 4, blocks = 5, width = (nh + 2 * NumKvHeads) * hd;
        var (qkv, qkvBits) = Rand.Bf16(r, n * width, 4);
        var inv = Enumerable.Range(0, hd / 2).Select(i => 1f / MathF.Pow(10000f, 2f * i / hd)).ToArray();
        int[] pos = [0, 1, 2, 7, 100, 4000], slots = [13, 2, -1, 19, 0, 8];
        var scales = new KvScales(1f / 128, 1f / 96); // |x| up to ~5.6 after RoPE: up to ~720 x scale, past 448
        var kk = new float[n * NumKvHeads * hd];
        var v = new float[n * NumKvHeads * hd];
        for (int t = 0; t < n; t++)
            for (int c = 0; c < NumKvHeads * hd; c++)
            {
                kk[t * NumKvHeads * hd + c] = qkv[t * width + nh * hd + c];
                v[t * NumKvHeads * hd + c] = qkv[t * width + (nh + NumKvHeads) * hd + c];
            }
        CpuOps.Rope(kk, NumKvHeads, hd, pos, inv);
        using var dq = Up(d, qkvBits); using var di = Up(d, inv); using var dp = Up(d, pos); using var ds = Up(d, slots);
        using var qo = d.Allocate(n * nh * hd * 4L);
        using var kc = d.Allocate(blocks * bs * NumKvHeads * hd); using var vc = d.Allocate(blocks * bs * NumKvHeads * hd);
        kc.Clear(); vc.Clear();
        k.RopeQkvWrite(dq.Ptr, 0, 0, 0, di.Ptr, dp.Ptr, ds.Ptr, qo.Ptr, kc.Ptr, vc.Ptr, n, nh, NumKvHeads, bs, 1e-6f, scales);
        var gk = kc.ToArray<byte>(); var gv = vc.ToArray<byte>();
        var touched = new bool[gk.Length];
        int written = 0, exact = 0, saturated = 0, bad = 0;
        string firstBad = "";
        for (int t = 0; t < n; t++)
        {
            if (slots[t] < 0) continue;
            for (int h = 0; h < NumKvHeads; h++)
                for (int i = 0; i < hd; i++)
                {
                    int at = (((slots[t] / bs) * NumKvHeads + h) * bs + slots[t] % bs) * hd + i;
                    touched[at] = true;
                    foreach (var (code, x, s) in new[] { (gk[at], kk[(t * NumKvHeads + h) * hd + i], scales.K), (gv[at], v[(t * NumKvHeads + h) * hd + i], scales.V) })
                    {
                        written++;
                        byte want = Fp8KvCache.Encode(x, s);
                        if (code == want) exact++;
                        bool ok;
                        if (MathF.Abs(x / s) >= 464f) { ok = (code & 0x7F) == 0x7E && (code & 0x80) == (want & 0x80); saturated++; }
                        else
                        {
                            // Half an E4M3 step (2^-4 relative; 2^-10 absolute among subnormals) plus the slack of the GPU's own
                            // cos/sin (the rotated value may differ by a few float ulps, moving a rounding boundary).
                            float err = MathF.Abs(Fp8KvCache.Decode(code, s) - x);
                            ok = err <= MathF.Abs(x) * (1f / 16) * 1.001f + s * (1f / 1024) * 1.001f;
                        }
                        if (!ok && bad++ == 0) firstBad = $"slot {slots[t]} head {h} dim {i}: code 0x{code:X2} ({Fp8KvCache.Decode(code, s)}) for {x} (scale {s})";
                    }
                }
        }
        int stray = 0;
        for (int i = 0; i < gk.Length; i++) if (!touched[i] && (gk[i] != 0 || gv[i] != 0)) stray++;
        rep.Check($"rope_qkv_write_fp8 hd={hd} g={g}", bad == 0 && stray == 0,
            $"{written} codes: {exact} equal to Fp8KvCache.Encode of the CPU value, {saturated} saturated, {bad} off by more than half a step{(bad > 0 ? " (first: " + firstBad + ")" : "")}; {stray} stray bytes in unwritten slots");
    }

    /// <summary>
    /// A paged FP8 cache of random codes with per-layer K and V scales (GPU layout [blocks, nkv, bs, hd], one byte per
    /// element), shuffled block tables in which some sequences share their first blocks with another's, and the CPU
    /// reference over the decoded values.
    /// </summary>
    private sealed class Fp8Case : IDisposable
    {
        private Fp8Case(CudaDevice d, Random r, int hd, int g, int[] ctx, int[] qlens, int bs, (int Seq, int From, int Blocks)[] shared)
        {
            HeadDim = hd; Group = g; NumHeads = NumKvHeads * g; Seqs = ctx.Length; BlockSize = bs; Contexts = ctx; QueryLens = qlens;
            MaxBlocks = ctx.Max() / bs + 1;
            Tokens = qlens.Sum();
            Scales = new KvScales(0.0123f, 0.0087f);
            // Each sequence gets the blocks its context needs, from a shuffled pool (3 spare); shared prefixes then point
            // a sequence's first table entries at another's blocks.
            int nkv = NumKvHeads, nh = NumHeads;
            int[] need = [.. ctx.Select(c => (c + bs - 1) / bs)];
            int numBlocks = need.Sum() + 3;
            var perm = Enumerable.Range(0, numBlocks).OrderBy(_ => r.Next()).ToArray();
            var tables = new int[Seqs * MaxBlocks];
            for (int s = 0, next = 0; s < Seqs; s++)
                for (int b = 0; b < need[s]; b++) tables[s * MaxBlocks + b] = perm[next++];
            foreach (var (seq, from, blocks) in shared)
                for (int b = 0; b < blocks; b++) tables[seq * MaxBlocks + b] = tables[from * MaxBlocks + b];
            // Random codes of either sign over subnormals and normals up to 120 (exponent field < 14), and one in 4096
            // the saturated ±448 that a large value is stored as; decoded through a 256-entry table.
            long elems = (long)numBlocks * bs * nkv * hd;
            var kc = new byte[elems]; var vc = new byte[elems];
            for (long i = 0; i < elems; i++)
            {
                kc[i] = (byte)((r.Next(2) << 7) | (r.Next(4096) == 0 ? 0x7E : r.Next(0x70)));
                vc[i] = (byte)((r.Next(2) << 7) | (r.Next(4096) == 0 ? 0x7E : r.Next(0x70)));
            }
            var kd = new float[256]; var vd = new float[256];
            for (int c = 0; c < 256; c++) { kd[c] = Fp8KvCache.Decode((byte)c, Scales.K); vd[c] = Fp8KvCache.Decode((byte)c, Scales.V); }
            var q = Rand.Floats(r, Tokens * nh * hd, 2);
            var qs = new int[Seqs + 1];
            for (int s = 0; s < Seqs; s++) qs[s + 1] = qs[s] + qlens[s];
            using var cpu = new CpuKvCache(1, numBlocks, bs, nkv, hd);
            var layer = cpu.Layer(0);
            for (int slot = 0; slot < numBlocks * bs; slot++)
                for (int h = 0; h < nkv; h++)
                    for (int i = 0; i < hd; i++)
                    {
                        long gpu = (((long)(slot / bs) * nkv + h) * bs + slot % bs) * hd + i;
                        layer.KeyRow(slot)[h * hd + i] = kd[kc[gpu]];
                        layer.ValueRow(slot)[h * hd + i] = vd[vc[gpu]];
                    }
            Scale = 1f / MathF.Sqrt(hd);
            Want = new float[Tokens * nh * hd];
            CpuOps.PagedAttention(q, Want, nh, qs, ctx, tables, MaxBlocks, layer, Scale);
            Q = Up(d, q); K = Up(d, kc); V = Up(d, vc); QueryStarts = Up(d, qs); ContextLens = Up(d, ctx); Tables = Up(d, tables);
        }

        public static Fp8Case Make(CudaDevice d, Random r, int hd, int g, int[] ctx, int[] qlens, int bs, (int, int, int)[] shared) =>
            new(d, r, hd, g, ctx, qlens, bs, shared);

        public int HeadDim { get; }
        public int Group { get; }
        public int NumHeads { get; }
        public int Seqs { get; }
        public int BlockSize { get; }
        public int MaxBlocks { get; }
        public int Tokens { get; }
        public int[] Contexts { get; }
        public int[] QueryLens { get; }
        public float Scale { get; }
        public KvScales Scales { get; }
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
}
