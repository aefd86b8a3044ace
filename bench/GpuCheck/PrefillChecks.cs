using System.Diagnostics;
using PagedAttention.AI.Models.Cuda;
using PagedAttention.Kernels.Cpu;
using PagedAttention.Kernels.Cuda;

using static GpuCheck.Buffers;

namespace GpuCheck;

/// <summary>
/// The tensor-core prefill attention kernel (prefill_attention.cu) against CpuOps.PagedAttention, its timing next to the
/// decode-style kernel, and model prefill time with the kernel on and off (--prefill, --prefill-bench).
/// </summary>
internal static unsafe class PrefillChecks
{
    private const float Bf16Rel = 1f / 128;

    public static void Run(CudaDevice d, Report rep)
    {
        // Several sequences per launch: a full prefill, appends over a cached prefix (ctx > q), a decode row, partial
        // last blocks, a query tile boundary crossed, and a longer append.
        int[] ctx = [300, 77, 1, 130, 64, 520, 16], q = [300, 20, 1, 65, 17, 333, 16];
        foreach (var (hd, g) in new[] { (64, 1), (64, 4), (64, 8), (128, 1), (128, 4), (128, 8), (16, 2), (32, 2) })
        {
            using var k = new CudaKernels(d, hd, g, Program.Switches);
            if (!k.SupportsPrefillAttention) { rep.Check($"prefill_attention hd={hd} g={g}", false, "not supported on this device"); continue; }
            // The 64-row kernel, then the wide one (128-row CTAs) on the same cases.
            foreach (bool wide in k.SupportsWidePrefill ? new[] { false, true } : [false])
            {
                k.WidePrefill = wide;
                string w = wide ? " wide" : "";
                foreach (bool precise in new[] { true, false })
                    rep.Run($"prefill{w} hd={hd} g={g} precise={precise}", () => Check(d, k, rep, hd, g, ctx, q, 16, precise, false));
                rep.Run($"prefill{w} hd={hd} g={g} mixed launch", () => Check(d, k, rep, hd, g, ctx, q, 16, true, true));
                if (hd == 128 && g == 4)
                {
                    rep.Run($"prefill{w} hd={hd} g={g} bs=8", () => Check(d, k, rep, hd, g, [200, 1000, 33], [200, 1000, 9], 8, true, false));
                    rep.Run($"prefill{w} hd={hd} g={g} bs=32", () => Check(d, k, rep, hd, g, [95, 1, 700], [95, 1, 64], 32, false, false));
                }
            }
            if (!k.SupportsWidePrefill) rep.Check($"prefill_attention_wide hd={hd} g={g}", false, $"not supported on this device ({d.MaxSharedMemoryPerBlockOptIn} bytes of opt-in shared memory per CTA)");
        }
        // Timing: causal prefill, 8B shape (32 heads, 8 KV heads, d 128) 4 x 4096, and 1B shape (d 64) 64 x 1024.
        rep.Run("prefill timing 8B", () => Time(d, rep, 128, 32, 8, 4, 4096));
        rep.Run("prefill timing 1B", () => Time(d, rep, 64, 32, 8, 64, 1024));
    }

    /// <summary>mixed: decode rows through paged_attention (skipPrefill, 3 splits), then the rest through prefill_attention (skipDecode).</summary>
    private static void Check(CudaDevice d, CudaKernels k, Report rep, int hd, int g, int[] ctx, int[] qlens, int bs, bool precise, bool mixed)
    {
        using var c = PagedCase.Make(d, new Random(11 + hd * 3 + g + bs), hd, g, ctx, qlens, bs);
        int n = c.Tokens, nh = c.NumHeads, nkv = PagedCase.NumKvHeads, seqs = c.Seqs;
        var want = c.Want;
        using var o = d.Allocate(n * nh * hd * 2L);
        o.Upload(Enumerable.Repeat((ushort)0x7fc0, n * nh * hd).ToArray()); // NaN: every row must be written
        using var ws = d.Allocate(Math.Max(1, k.AttentionWorkspaceBytes(n, nh, 3)));
        if (mixed) k.PagedAttention(c.Q.Ptr, o.Ptr, c.K.Ptr, c.V.Ptr, c.QueryStarts.Ptr, c.ContextLens.Ptr, c.Tables.Ptr, n, seqs, nh, nkv, bs, c.MaxBlocks, c.Scale, 3, ws.Ptr, skipPrefill: true);
        k.PrefillAttention(c.Q.Ptr, o.Ptr, c.K.Ptr, c.V.Ptr, c.QueryStarts.Ptr, c.ContextLens.Ptr, c.Tables.Ptr, seqs, qlens.Max(), nh, nkv, bs, c.MaxBlocks, c.Scale, precise, skipDecode: mixed);
        var bits = o.ToArray<ushort>();
        var got = Rand.Widen(bits);
        if (k.WidePrefill)
        {
            // Per row the wide kernel adds the same products in the same order (its extra key tiles are fully masked
            // for the rows a 64-row CTA would skip them for, exact no-ops), so it must match the 64-row kernel bit for bit.
            k.WidePrefill = false;
            o.Upload(Enumerable.Repeat((ushort)0x7fc0, n * nh * hd).ToArray());
            if (mixed) k.PagedAttention(c.Q.Ptr, o.Ptr, c.K.Ptr, c.V.Ptr, c.QueryStarts.Ptr, c.ContextLens.Ptr, c.Tables.Ptr, n, seqs, nh, nkv, bs, c.MaxBlocks, c.Scale, 3, ws.Ptr, skipPrefill: true);
            k.PrefillAttention(c.Q.Ptr, o.Ptr, c.K.Ptr, c.V.Ptr, c.QueryStarts.Ptr, c.ContextLens.Ptr, c.Tables.Ptr, seqs, qlens.Max(), nh, nkv, bs, c.MaxBlocks, c.Scale, precise, skipDecode: mixed);
            k.WidePrefill = true;
            var narrow = o.ToArray<ushort>();
            int differ = bits.Zip(narrow).Count(p => p.First != p.Second);
            rep.Check($"prefill_attention_wide = prefill_attention bit for bit, {(precise ? "precise" : "fast")} hd={hd} g={g} bs={bs}{(mixed ? " mixed" : "")}", differ == 0, $"{differ} of {bits.Length} values differ");
        }
        bool finite = got.All(float.IsFinite);
        float e = Rand.RelErr(got, want);
        // Worst row, relative to that row's own scale (long contexts average V towards 0).
        float worstRow = 0;
        for (int row = 0; row < n * nh; row++)
            worstRow = MathF.Max(worstRow, Rand.RelErr(got.AsSpan(row * hd, hd), want.AsSpan(row * hd, hd)));
        // Precise mode should match the fp32 reference up to the bf16 output rounding (2^-9 of each value).
        float bound = precise ? 1f / 256 : Bf16Rel;
        rep.Check($"prefill_attention{(k.WidePrefill ? "_wide" : "")} {(mixed ? "mixed+decode " : "")}{(precise ? "precise" : "fast")} hd={hd} g={g} bs={bs} ctx=[{string.Join(",", ctx)}] q=[{string.Join(",", qlens)}]",
            finite && e <= bound, $"rel err {e:E2} (bound {bound:E2}) (worst row, own scale {worstRow:E2}); all finite: {finite}");
    }

    private static void Time(CudaDevice d, Report rep, int hd, int nh, int nkv, int seqs, int len)
    {
        using var k = new CudaKernels(d, hd, nh / nkv, Program.Switches);
        k.WidePrefill = false; // the 64-row kernel first, whatever PAGEDATTENTION_PREFILL_WIDE says
        int bs = 16, maxBlocks = len / bs, n = seqs * len;
        var r = new Random(5);
        var qs = Enumerable.Range(0, seqs + 1).Select(s => s * len).ToArray();
        var ctx = Enumerable.Repeat(len, seqs).ToArray();
        var tables = Enumerable.Range(0, seqs * maxBlocks).OrderBy(_ => r.Next()).ToArray();
        var qChunk = Rand.Floats(r, nh * hd * 64, 2);
        var qv = new float[(long)n * nh * hd];
        for (long i = 0; i < qv.LongLength; i += qChunk.Length) Array.Copy(qChunk, 0, qv, i, Math.Min(qChunk.Length, qv.LongLength - i));
        var (_, kvb) = Rand.Bf16(r, 1 << 20);
        long cacheElems = (long)seqs * maxBlocks * bs * nkv * hd;
        var kb = new ushort[cacheElems];
        for (long i = 0; i < cacheElems; i += kvb.Length) Array.Copy(kvb, 0, kb, i, Math.Min(kvb.Length, cacheElems - i));
        using var dq = Up(d, qv); using var dk = Up(d, kb); using var dqs = Up(d, qs); using var dc = Up(d, ctx); using var dt = Up(d, tables);
        using var o = d.Allocate((long)n * nh * hd * 2);
        float scale = 1f / MathF.Sqrt(hd);
        double flops = 4.0 * hd * nh * seqs * (len * (len + 1.0) / 2);
        void Tc() => k.PrefillAttention(dq.Ptr, o.Ptr, dk.Ptr, dk.Ptr, dqs.Ptr, dc.Ptr, dt.Ptr, seqs, len, nh, nkv, bs, maxBlocks, scale, true);
        void Fast() => k.PrefillAttention(dq.Ptr, o.Ptr, dk.Ptr, dk.Ptr, dqs.Ptr, dc.Ptr, dt.Ptr, seqs, len, nh, nkv, bs, maxBlocks, scale, false);
        void Old() => k.PagedAttention(dq.Ptr, o.Ptr, dk.Ptr, dk.Ptr, dqs.Ptr, dc.Ptr, dt.Ptr, n, seqs, nh, nkv, bs, maxBlocks, scale);
        d.Time(Tc);
        float tc = Enumerable.Range(0, 5).Select(_ => d.Time(Tc)).Min();
        d.Time(Fast);
        float fast = Enumerable.Range(0, 5).Select(_ => d.Time(Fast)).Min();
        d.Time(Old);
        float old = d.Time(Old);
        // The wide kernel (128-row CTAs), both precisions, where the device has its shared memory.
        string wideText = "";
        if (k.SupportsWidePrefill)
        {
            k.WidePrefill = true;
            d.Time(Tc);
            float wtc = Enumerable.Range(0, 5).Select(_ => d.Time(Tc)).Min();
            d.Time(Fast);
            float wfast = Enumerable.Range(0, 5).Select(_ => d.Time(Fast)).Min();
            k.WidePrefill = false;
            wideText = $"; wide kernel fast {wfast:F3} ms = {flops / wfast / 1e9:F0} TFLOP/s ({fast / wfast:F2}x), precise {wtc:F3} ms = {flops / wtc / 1e9:F0} TFLOP/s ({tc / wtc:F2}x)";
        }
        rep.Check($"prefill timing hd={hd} nh={nh} nkv={nkv} {seqs}x{len} causal", true,
            $"tensor-core fast (bf16 q, P) {fast:F3} ms = {flops / fast / 1e9:F0} TFLOP/s; precise (hi+lo) {tc:F3} ms = {flops / tc / 1e9:F0} TFLOP/s; decode-style kernel {old:F3} ms = {flops / old / 1e9:F1} TFLOP/s; speed-up {old / tc:F1}x{wideText}");
        Console.WriteLine($"RESULT prefill_attention hd={hd} nh={nh} nkv={nkv} {seqs}x{len}: fast {fast:F3} ms ({flops / fast / 1e9:F0} TFLOP/s), precise {tc:F3} ms ({flops / tc / 1e9:F0} TFLOP/s) vs paged_attention {old:F3} ms{wideText}");
    }

    /// <summary>Model prefill of B prompts in one step, tensor-core kernel on vs off, and the first tokens of both.</summary>
    public static void Bench(CudaDevice d, string dir, int[] batches, int prompt, Report rep)
    {
        using var m = CudaLlamaModel.Load(dir, Program.Switches, d);
        var c = m.Config;
        foreach (int b in batches)
        {
            var r = new Random(b);
            var prompts = Enumerable.Range(0, b).Select(_ => Enumerable.Range(0, prompt).Select(_ => r.Next(c.VocabSize)).ToArray()).ToArray();
            var probe = new Steps(prompts, 16, prompt + 8);
            m.ConfigureSteps(probe.Batch.MaxTokens, b, probe.Batch.MaxBlocksPerSeq, prompt + 8, false);
            using var cache = m.CreateKvCache(probe.NumBlocks, 16);
            var ms = new Dictionary<string, double>();
            var ids = new Dictionary<string, int[]>();
            var modes = new List<(string Mode, bool On, bool Fast, bool Wide)> { ("precise", true, false, false), ("fast", true, true, false), ("off", false, false, false) };
            if (m.Kernels.SupportsWidePrefill) modes.AddRange([("wide precise", true, false, true), ("wide fast", true, true, true)]);
            foreach (var (mode, on, fast, wide) in modes)
            {
                m.TensorCorePrefill = on;
                m.FastPrefill = fast;
                m.Kernels.WidePrefill = wide;
                var got = new int[b];
                m.ForwardGreedy(new Steps(prompts, 16, prompt + 8).Next(), cache, got); // warm-up (kernels, cuBLAS)
                double best = double.MaxValue;
                for (int rep2 = 0; rep2 < 2; rep2++)
                {
                    var batch = new Steps(prompts, 16, prompt + 8).Next();
                    var sw = Stopwatch.StartNew();
                    m.ForwardGreedy(batch, cache, got);
                    best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
                }
                ms[mode] = best;
                ids[mode] = got;
            }
            m.TensorCorePrefill = true;
            m.FastPrefill = false;
            m.Kernels.WidePrefill = false;
            int same = ids["precise"].Zip(ids["off"]).Count(p => p.First == p.Second), sameFast = ids["fast"].Zip(ids["off"]).Count(p => p.First == p.Second);
            string Rate(string mode) => $"{ms[mode]:F1} ms ({b * prompt / ms[mode] * 1e3:F0} tok/s)";
            Console.WriteLine($"RESULT prefill batch={b} prompt={prompt} (one step, greedy first token): tensor-core precise {Rate("precise")}, " +
                $"tensor-core fast {Rate("fast")}, decode-style kernel {Rate("off")}; first tokens = off: precise {same}/{b}, fast {sameFast}/{b}");
            rep.Check($"prefill bench batch={b} first tokens precise = off", same >= b * 9 / 10, $"{same}/{b} equal");
            if (ids.TryGetValue("wide precise", out var wp))
            {
                // The wide kernel computes the same sums in the same order per row as the 64-row kernel.
                int wideSame = wp.Zip(ids["precise"]).Count(p => p.First == p.Second), wideFastSame = ids["wide fast"].Zip(ids["fast"]).Count(p => p.First == p.Second);
                Console.WriteLine($"RESULT prefill batch={b} prompt={prompt} wide kernel: precise {Rate("wide precise")}, fast {Rate("wide fast")}; first tokens = 64-row kernel: precise {wideSame}/{b}, fast {wideFastSame}/{b}");
                rep.Check($"prefill bench batch={b} wide kernel first tokens = 64-row kernel", wideSame == b && wideFastSame == b, $"precise {wideSame}/{b}, fast {wideFastSame}/{b} equal");
            }
        }
    }
}
