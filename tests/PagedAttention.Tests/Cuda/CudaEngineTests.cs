using PagedAttention.AI.Engine;
using PagedAttention.AI.Sampling;
using PagedAttention.Kernels.Cuda;

namespace PagedAttention.Tests.Cuda;

/// <summary>The engine with Device = "cuda": a clear error without CUDA, and (on a GPU) the same greedy tokens as the CPU.</summary>
public class CudaEngineTests
{
    [Fact]
    public async Task MissingCudaFailsWithAMessageNamingWhatIsMissing()
    {
        var missing = CudaDevice.MissingComponent();
        if (missing is null) return; // CUDA is present: nothing to check here
        var ex = await Assert.ThrowsAsync<NotSupportedException>(() =>
            LlmEngine.LoadAsync(new EngineOptions { ModelPath = TestData.Model("llama"), Device = "cuda" }));
        Assert.Contains("Device = \"cuda\"", ex.Message);
        Assert.Contains(missing, ex.Message);
    }

    [Fact]
    public void GpuMemoryUtilizationIsValidated()
    {
        var o = new EngineOptions { ModelPath = "x", GpuMemoryUtilization = 0 };
        Assert.Contains("GpuMemoryUtilization", Assert.Throws<ArgumentException>(o.Validate).Message);
        o.GpuMemoryUtilization = 1.5;
        Assert.Contains("GpuMemoryUtilization", Assert.Throws<ArgumentException>(o.Validate).Message);
    }

    [CudaFact]
    public async Task GreedyTokensMatchTheCpuEngine()
    {
        int[] prompt = [1, 17, 42, 99, 5, 300, 7];
        var p = new SamplingParams { Temperature = 0, MaxTokens = 8, IgnoreEos = true };
        async Task<int[]> Run(string device)
        {
            await using var e = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = TestData.Model("llama-bf16"), Device = device, NumKvBlocks = 64 });
            var ids = new List<int>();
            await foreach (var o in e.GenerateAsync(prompt, p)) ids.Add(o.TokenId);
            return [.. ids];
        }
        // fp32 on the CPU vs bf16 activations on the GPU: random tiny models amplify rounding (docs/cuda.md), so only the first token must agree.
        Assert.Equal((await Run("cpu"))[0], (await Run("cuda"))[0]);
    }
}
