using System.Diagnostics;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;
using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;

namespace CpuBench;

/// <summary>
/// bf16 vs Int8 vs Int4 weights: GEMV time on one matrix and single-stream decode through the engine, interleaved
/// round by round (the machine is shared), with per-round ratios to bf16.
/// </summary>
internal static class QuantBench
{
    /// <summary>One GEMV of n x k per format, <paramref name="rounds"/> alternations; prints ms and ratios.</summary>
    public static unsafe void Gemv(int n, int k, CpuWorkerPool pool, int reps, int rounds)
    {
        using var bf = NativeBuffer.RandomWeights(DType.BF16, (long)n * k, 17);
        var w = new WeightMatrix((nint)bf.Pointer, DType.BF16, n, k);
        using var q8 = QuantizedMatrix.Quantize(w, DType.Int8);
        using var q4 = QuantizedMatrix.Quantize(w, DType.Int4);
        using var f8codes = new NativeBuffer((long)n * k);
        using var f8scales = new NativeBuffer(4L * n);
        for (int r = 0; r < n; r++)
            ((float*)f8scales.Pointer)[r] = CheckpointWriter.EncodeFp8Row(w, r, new Span<byte>(f8codes.Pointer + (long)r * k, k));
        var f8 = new WeightMatrix((nint)f8codes.Pointer, (nint)f8scales.Pointer, DType.F8E4M3, n, k);
        var x = new float[k];
        var rng = new Random(1);
        for (int i = 0; i < k; i++) x[i] = (float)rng.NextDouble() - 0.5f;
        var y = new float[n];
        var mats = new[] { ("BF16", w), ("Int8", q8.Matrix), ("Int4", q4.Matrix), ("F8E4M3", f8) };
        var t = new double[mats.Length][];
        for (int f = 0; f < mats.Length; f++) t[f] = new double[rounds];
        for (int r = 0; r < rounds; r++)
            for (int f = 0; f < mats.Length; f++)
            {
                var m = mats[f].Item2;
                t[f][r] = Timing.MedianSeconds(() => CpuOps.MatMul(x, 1, m, y, pool), reps);
            }
        for (int f = 0; f < mats.Length; f++)
        {
            double ms = Timing.Median(t[f]) * 1e3;
            var ratio = Enumerable.Range(0, rounds).Select(r => t[0][r] / t[f][r]).ToArray();
            Console.WriteLine($"| {n}x{k} | {mats[f].Item1} | {pool.ThreadCount} | {ms:F3} | {mats[f].Item2.SizeInBytes / (ms * 1e-3) / 1e9:F1} | {Timing.Median(ratio):F2}x ({ratio.Min():F2}–{ratio.Max():F2}) |");
        }
    }

    /// <summary>Decode tok/s per format through <see cref="LlmEngine"/>, formats alternated within each round.</summary>
    public static async Task Engine(string dir, string? fp8Dir, int promptLen, int newTokens, int rounds)
    {
        var formats = new[] { WeightQuantization.None, WeightQuantization.Int8, WeightQuantization.Int4 };
        var names = new List<string> { "BF16", "Int8", "Int4" };
        var engines = new List<LlmEngine>();
        try
        {
            foreach (var f in formats)
            {
                long t0 = Stopwatch.GetTimestamp();
                engines.Add(await LlmEngine.LoadAsync(new EngineOptions { ModelPath = dir, NumKvBlocks = (promptLen + newTokens) / 16 + 4, WeightQuantization = f, LmHeadQuantization = f }));
                Console.WriteLine($"loaded {f} in {Stopwatch.GetElapsedTime(t0).TotalSeconds:F1} s");
            }
            if (fp8Dir is not null)
            {
                // The same random weights as a compressed-tensors FP8 checkpoint (layers FP8, LM head bf16).
                long t0 = Stopwatch.GetTimestamp();
                engines.Add(await LlmEngine.LoadAsync(new EngineOptions { ModelPath = fp8Dir, NumKvBlocks = (promptLen + newTokens) / 16 + 4 }));
                Console.WriteLine($"loaded the FP8 checkpoint in {Stopwatch.GetElapsedTime(t0).TotalSeconds:F1} s");
                names.Add("F8E4M3 checkpoint (LM head bf16)");
            }
            var prompt = Enumerable.Range(0, promptLen).Select(i => 3 + i * 7 % 1000).ToArray();
            foreach (var e in engines)
                await foreach (var _ in e.GenerateAsync(prompt, new SamplingParams { Temperature = 0, MaxTokens = 8, IgnoreEos = true })) { }
            var tps = new double[engines.Count][];
            for (int f = 0; f < engines.Count; f++) tps[f] = new double[rounds];
            for (int r = 0; r < rounds; r++)
                for (int f = 0; f < engines.Count; f++)
                {
                    int n = 0;
                    long start = 0;
                    await foreach (var o in engines[f].GenerateAsync(prompt, new SamplingParams { Temperature = 0, MaxTokens = newTokens, IgnoreEos = true }))
                        if (n++ == 0) start = Stopwatch.GetTimestamp();
                    tps[f][r] = (n - 1) / Stopwatch.GetElapsedTime(start).TotalSeconds;
                }
            Console.WriteLine("| weights (layers and LM head) | decode tok/s (median) | per round | ratio to bf16 (median, min–max) |\n| --- | --- | --- | --- |");
            for (int f = 0; f < engines.Count; f++)
            {
                var ratio = Enumerable.Range(0, rounds).Select(r => tps[f][r] / tps[0][r]).ToArray();
                Console.WriteLine($"| {names[f]} | {Timing.Median(tps[f]):F1} | {string.Join(" ", tps[f].Select(v => v.ToString("F1")))} | {Timing.Median(ratio):F2}x ({ratio.Min():F2}–{ratio.Max():F2}) |");
            }
        }
        finally
        {
            foreach (var e in engines) await e.DisposeAsync();
        }
    }
}
