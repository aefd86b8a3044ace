using System.Diagnostics;
using PagedAttention.AI.Models.Cuda;
using PagedAttention.Kernels.Cuda;

namespace GpuCheck;

/// <summary>Decode throughput of a checkpoint: prefill B random prompts, then time greedy decode steps (eager launches,
/// one host sync per step, as the engine would run it today), next to the weight-bandwidth roofline.</summary>
internal static class DecodeBench
{
    public static void Run(CudaDevice d, string dir, int[] batches, int prompt, int steps, DevicePeaks peaks)
    {
        var sw = Stopwatch.StartNew();
        using var m = CudaLlamaModel.Load(dir, Program.Switches, d);
        double copyGBs = DevicePeaks.MeasureCopyGBs(d);
        Console.WriteLine($"bench: {peaks.Name}: peak {peaks.BandwidthGBs / 1000:F2} TB/s, {peaks.Bf16Tflops:F0} bf16 TFLOP/s ({peaks.Source}); device copy measured {copyGBs / 1000:F2} TB/s");
        Console.WriteLine($"bench: loaded {dir} in {sw.Elapsed.TotalSeconds:F1} s; weights on device {m.WeightBytes / 1e9:F3} GB; kernels {m.KernelArch}");
        var c = m.Config;
        long kvPerToken = 2L * c.NumLayers * c.NumKvHeads * c.HeadDim * 2;
        bool pdlDefault = m.ProgrammaticLaunch;
        // Eager, graphs, graphs with the GEMV kernel, and (where programmatic dependent launch is on) graphs without it.
        var variants = new List<(bool Graphs, bool Gemv, bool Pdl)> { (false, false, pdlDefault), (true, false, pdlDefault), (true, true, pdlDefault) };
        if (pdlDefault) variants.Add((true, false, false));
        foreach (var (graphs, gemv, pdl) in variants)
        foreach (int b in batches)
        {
            m.SmallBatchGemv = gemv;
            m.ProgrammaticLaunch = pdl;
            var r = new Random(b);
            var prompts = Enumerable.Range(0, b).Select(_ => Enumerable.Range(0, prompt).Select(_ => r.Next(c.VocabSize)).ToArray()).ToArray();
            var st = new Steps(prompts, 16, prompt + steps + 8);
            m.ConfigureSteps(st.Batch.MaxTokens, b, st.Batch.MaxBlocksPerSeq, prompt + steps + 8, graphs);
            using var cache = m.CreateKvCache(st.NumBlocks, 16);
            var ids = new int[b];
            sw.Restart();
            m.ForwardGreedy(st.Next(), cache, ids);
            double prefillMs = sw.Elapsed.TotalMilliseconds;
            st.Append(ids);
            for (int i = 0; i < 3; i++) { m.ForwardGreedy(st.Next(), cache, ids); st.Append(ids); } // warm-up
            sw.Restart();
            for (int i = 0; i < steps; i++) { m.ForwardGreedy(st.Next(), cache, ids); st.Append(ids); }
            double stepMs = sw.Elapsed.TotalMilliseconds / steps;
            double ctx = prompt + 3 + steps / 2.0;
            double bytes = m.WeightBytes + b * ctx * kvPerToken;
            long h = c.HiddenSize, q = (long)c.NumHeads * c.HeadDim, kvw = (long)c.NumKvHeads * c.HeadDim;
            double flops = b * (2.0 * (c.NumLayers * (h * (q + 2 * kvw) + q * h + 3 * h * c.IntermediateSize) + (long)c.VocabSize * h) + 4.0 * ctx * q * c.NumLayers);
            var (memMs, computeMs) = peaks.Bounds(bytes, flops);
            double rooflineMs = Math.Max(memMs, computeMs);
            Console.WriteLine($"RESULT {(graphs ? "graphs" : "eager")}{(gemv ? "+gemv" : "")}{(pdl ? "+pdl" : "")} batch={b} prompt={prompt} decode_steps={steps}: prefill {prefillMs:F1} ms ({b * prompt / prefillMs * 1e3:F0} tok/s, first call incl.), " +
                $"decode {stepMs:F3} ms/step = {b / stepMs * 1e3:F0} tok/s; roofline {rooflineMs:F3} ms/step = {b / rooflineMs * 1e3:F0} tok/s " +
                $"(memory {memMs:F3} ms: {bytes / 1e9:F3} GB at {peaks.BandwidthGBs / 1000:F2} TB/s; compute {computeMs:F3} ms: {flops / 1e12:F2} TFLOP at {peaks.Bf16Tflops:F0}) -> {rooflineMs / stepMs:P0} of the larger bound; " +
                $"{bytes / (stepMs / 1e3) / 1e12:F2} TB/s, {flops / (stepMs / 1e3) / 1e12:F0} TFLOP/s achieved");
        }
    }
}
