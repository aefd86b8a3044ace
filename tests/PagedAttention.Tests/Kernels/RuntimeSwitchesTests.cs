using PagedAttention.Kernels;

namespace PagedAttention.Tests.Kernels;

/// <summary>Tests that set process environment variables run alone: other tests read the same switches.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EnvironmentCollection
{
    public const string Name = "Process environment";
}

/// <summary><see cref="RuntimeSwitches.FromEnvironment"/>: defaults, every variable, and values it ignores.</summary>
[Collection(EnvironmentCollection.Name)]
public class RuntimeSwitchesTests
{
    // Sets the variables (null = unset) for the duration of the action, then restores what was there.
    private static void WithEnvironment(IReadOnlyDictionary<string, string?> values, Action action)
    {
        var saved = RuntimeSwitches.Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);
        try
        {
            foreach (var v in RuntimeSwitches.Variables) Environment.SetEnvironmentVariable(v, values.GetValueOrDefault(v));
            action();
        }
        finally
        {
            foreach (var (k, v) in saved) Environment.SetEnvironmentVariable(k, v);
        }
    }

    [Fact]
    public void DefaultsAreTodaysBehaviour()
    {
        var d = new RuntimeSwitches();
        Assert.True(d.Overlap);
        Assert.True(d.TensorCorePrefill);
        Assert.False(d.FastPrefill);
        Assert.False(d.WidePrefill);
        Assert.True(d.ProgrammaticLaunch);
        Assert.Equal(0, d.AttentionVariant);
        Assert.Null(d.KernelCacheDirectory);
        Assert.True(d.CublasLt);
        Assert.False(d.GemmSearch);
        Assert.False(d.Fp8FastAccumulation);
        Assert.True(d.SwapCopyKernel);
        Assert.Null(d.CpuThreads);
        Assert.Equal(200, d.CpuSpinIterations);
        Assert.True(d.CpuHugePages);
    }

    [Fact]
    public void AnEmptyEnvironmentGivesTheDefaults() =>
        WithEnvironment(new Dictionary<string, string?>(), () => Assert.Equal(new RuntimeSwitches(), RuntimeSwitches.FromEnvironment()));

    [Fact]
    public void EveryVariableIsRead() =>
        WithEnvironment(new Dictionary<string, string?>
        {
            ["PAGEDATTENTION_OVERLAP"] = "0",
            ["PAGEDATTENTION_PREFILL_KERNEL"] = "0",
            ["PAGEDATTENTION_PREFILL_FAST"] = "1",
            ["PAGEDATTENTION_PREFILL_WIDE"] = "1",
            ["PAGEDATTENTION_PDL"] = "0",
            ["PAGEDATTENTION_ATTN_VARIANT"] = "-1",
            ["PAGEDATTENTION_KERNEL_CACHE"] = "/tmp/kc",
            ["PAGEDATTENTION_CUBLASLT"] = "0",
            ["PAGEDATTENTION_GEMM_SEARCH"] = "1",
            ["PAGEDATTENTION_FP8_FAST_ACCUM"] = "1",
            ["PAGEDATTENTION_CPU_THREADS"] = "3",
            ["PAGEDATTENTION_CPU_SPIN"] = "0",
            ["PAGEDATTENTION_SWAP_KERNEL"] = "0",
            ["PAGEDATTENTION_CPU_HUGE_PAGES"] = "0",
        }, () =>
        {
            var s = RuntimeSwitches.FromEnvironment();
            Assert.Equal(new RuntimeSwitches
            {
                Overlap = false, TensorCorePrefill = false, FastPrefill = true, WidePrefill = true, ProgrammaticLaunch = false, AttentionVariant = -1,
                KernelCacheDirectory = "/tmp/kc", CublasLt = false, GemmSearch = true, Fp8FastAccumulation = true, CpuThreads = 3, CpuSpinIterations = 0,
                SwapCopyKernel = false, CpuHugePages = false,
            }, s);
        });

    [Theory]
    [InlineData("2", 2)]
    [InlineData("3", 3)]
    [InlineData("4", 4)]
    [InlineData("1", 1)]  // the CUDA-core tile
    [InlineData("5", 5)]
    [InlineData("7", 7)]
    [InlineData("8", 8)]
    [InlineData("10", 10)]
    [InlineData("11", 0)]
    [InlineData("-2", 0)]
    [InlineData("x", 0)]
    [InlineData("", 0)]
    public void AttentionVariantKeepsOnlyKnownVariants(string value, int expected) =>
        WithEnvironment(new Dictionary<string, string?> { ["PAGEDATTENTION_ATTN_VARIANT"] = value },
            () => Assert.Equal(expected, RuntimeSwitches.FromEnvironment().AttentionVariant));

    // The on/off switches keep their historical spelling: "default on" ones turn off only on exactly "0", "default
    // off" ones turn on only on exactly "1".
    [Theory]
    [InlineData("1")]
    [InlineData("false")]
    [InlineData("")]
    [InlineData("00")]
    public void DefaultOnSwitchesTurnOffOnlyOnZero(string value) =>
        WithEnvironment(new Dictionary<string, string?>
        {
            ["PAGEDATTENTION_OVERLAP"] = value, ["PAGEDATTENTION_PREFILL_KERNEL"] = value, ["PAGEDATTENTION_PDL"] = value,
            ["PAGEDATTENTION_CUBLASLT"] = value, ["PAGEDATTENTION_PREFILL_FAST"] = value, ["PAGEDATTENTION_GEMM_SEARCH"] = value,
            ["PAGEDATTENTION_SWAP_KERNEL"] = value, ["PAGEDATTENTION_CPU_HUGE_PAGES"] = value, ["PAGEDATTENTION_PREFILL_WIDE"] = value,
        }, () =>
        {
            var s = RuntimeSwitches.FromEnvironment();
            Assert.True(s.Overlap && s.TensorCorePrefill && s.ProgrammaticLaunch && s.CublasLt && s.SwapCopyKernel && s.CpuHugePages);
            Assert.Equal(value == "1", s.FastPrefill);
            Assert.Equal(value == "1", s.GemmSearch);
            Assert.Equal(value == "1", s.WidePrefill);
        });

    [Theory]
    [InlineData("0", null, "-1", 200)]
    [InlineData("-4", null, "x", 200)]
    [InlineData("many", null, "", 200)]
    [InlineData("16", 16, "5000", 5000)]
    public void CpuCountsIgnoreValuesOutOfRange(string threads, int? expectedThreads, string spin, int expectedSpin) =>
        WithEnvironment(new Dictionary<string, string?> { ["PAGEDATTENTION_CPU_THREADS"] = threads, ["PAGEDATTENTION_CPU_SPIN"] = spin }, () =>
        {
            var s = RuntimeSwitches.FromEnvironment();
            Assert.Equal(expectedThreads, s.CpuThreads);
            Assert.Equal(expectedSpin, s.CpuSpinIterations);
        });

    [Fact]
    public void AnEmptyKernelCacheVariableMeansTheDefaultDirectory() =>
        WithEnvironment(new Dictionary<string, string?> { ["PAGEDATTENTION_KERNEL_CACHE"] = "" },
            () => Assert.Null(RuntimeSwitches.FromEnvironment().KernelCacheDirectory));

    [Fact]
    public void RestoresTheEnvironment()
    {
        string? before = Environment.GetEnvironmentVariable("PAGEDATTENTION_CPU_SPIN");
        WithEnvironment(new Dictionary<string, string?> { ["PAGEDATTENTION_CPU_SPIN"] = "7" },
            () => Assert.Equal(7, RuntimeSwitches.FromEnvironment().CpuSpinIterations));
        Assert.Equal(before, Environment.GetEnvironmentVariable("PAGEDATTENTION_CPU_SPIN"));
    }

    [Fact]
    public void EverySwitchIsDocumented()
    {
        var doc = File.ReadAllText(Path.Combine(TestData.RepoRoot, "docs", "switches.md"));
        Assert.Equal(14, RuntimeSwitches.Variables.Count);
        foreach (var v in RuntimeSwitches.Variables) Assert.Contains($"`{v}`", doc);
        foreach (var p in typeof(RuntimeSwitches).GetProperties().Where(p => p.CanWrite)) Assert.Contains($"`{p.Name}`", doc);
    }
}
