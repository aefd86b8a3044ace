using PagedAttention.Kernels;
using PagedAttention.AI.Models;
using PagedAttention.AI.Models.Cuda;

namespace PagedAttention.Tests.Cuda;

/// <summary>The CUDA runner on a GPU machine with the .NET SDK (skipped elsewhere; bench/GpuCheck runs the full set).</summary>
public class CudaModelTests
{
    [CudaFact]
    public void GreedyBatchEqualsOneAtATimeAndLogitsStayWithinBf16Tolerance()
    {
        using var gpu = CudaLlamaModel.Load(TestData.Model("llama-bf16"), new RuntimeSwitches());
        using var cpu = LlamaModel.Load(TestData.Model("llama-bf16"));
        int vocab = gpu.Config.VocabSize;
        int[] prompt = [1, 17, 42, 99, 5, 300, 7];
        var batch = new ForwardBatch(prompt.Length, 1, 4);
        for (int b = 0; b < 4; b++) batch.BlockTables[b] = 3 - b;
        batch.NumSeqs = 1; batch.NumTokens = prompt.Length; batch.QueryStarts[1] = prompt.Length; batch.ContextLens[0] = prompt.Length;
        for (int i = 0; i < prompt.Length; i++) { batch.TokenIds[i] = prompt[i]; batch.Positions[i] = i; batch.SlotMapping[i] = 3 * 16 + i; }
        using var gCache = gpu.CreateKvCache(4, 16);
        using var cCache = cpu.CreateKvCache(4, 16);
        var g = new float[vocab]; var c = new float[vocab];
        gpu.Forward(batch, gCache, g);
        cpu.Forward(batch, cCache, c);
        float diff = g.Zip(c).Max(p => MathF.Abs(p.First - p.Second)), scale = c.Max(MathF.Abs);
        Assert.True(diff <= 0.06f * scale, $"max |gpu - cpu| = {diff} with max |logit| {scale}");
        var ids = new int[1];
        using var gCache2 = gpu.CreateKvCache(4, 16);
        gpu.ForwardGreedy(batch, gCache2, ids);
        Assert.Equal(Array.IndexOf(g, g.Max()), ids[0]);
    }
}
