using System.Text;
using System.Text.RegularExpressions;
using PagedAttention.Kernels.Cuda;
using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Tests.Cuda;

/// <summary>Every embedded kernel compiles with NVRTC for Ampere and Hopper PTX; no GPU needed.</summary>
public class KernelCompileTests
{
    public static TheoryData<string, string> FilesAndArchs()
    {
        var d = new TheoryData<string, string>();
        foreach (var f in CudaKernelSources.Files)
            foreach (var arch in new[] { "compute_80", "compute_90" }) d.Add(f, arch);
        return d;
    }

    public static TheoryData<int, int> Shapes => new() { { 16, 2 }, { 32, 2 }, { 64, 4 }, { 64, 8 }, { 128, 1 }, { 128, 4 }, { 128, 8 }, { 256, 2 } };

    [Fact]
    public void AllKernelFilesAreEmbedded()
    {
        Assert.Equal(["embedding.cu", "fp8_quant.cu", "gemv.cu", "kv_swap.cu", "paged_attention.cu", "paged_attention_mma.cu", "prefill_attention.cu", "rmsnorm.cu", "rope_kv.cu", "sampling.cu", "silu_mul.cu"], CudaKernelSources.Files);
        Assert.Contains("f2bf", CudaKernelSources.Read(CudaKernelSources.Prelude));
    }

    [NvrtcTheory]
    [MemberData(nameof(FilesAndArchs))]
    public void EachFileCompilesToPtx(string file, string arch)
    {
        var ptx = Encoding.ASCII.GetString(NvrtcCompiler.Compile(CudaKernelSources.Unit(file), file, arch, CudaKernelSources.Defines(128, 4)));
        Assert.Contains($".target sm_{arch["compute_".Length..]}", ptx);
        // Every extern "C" kernel of the file is an entry point of the PTX.
        var names = Regex.Matches(CudaKernelSources.Read(file), @"__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s*)?(\w+)\s*\(");
        Assert.NotEmpty(names);
        foreach (Match name in names) Assert.Contains($".entry {name.Groups[1].Value}(", ptx);
    }

    [NvrtcTheory]
    [MemberData(nameof(Shapes))]
    public void ModuleCompilesForEveryModelShape(int headDim, int group)
    {
        var defines = CudaKernelSources.Defines(headDim, group);
        var ptx = Encoding.ASCII.GetString(NvrtcCompiler.Compile(CudaKernelSources.ModuleSource, "module.cu", "compute_90", defines));
        foreach (var k in new[] { "embedding_gather", "fused_add_rms_norm", "rope_qkv_write", "silu_mul", "paged_attention", "paged_attention_merge", "prefill_attention", "argmax_rows",
                     "rope_qkv_write_fp8", "paged_attention_fp8", "prefill_attention_fp8", "paged_attention_mma_t2", "paged_attention_mma_fp8",
                     "prefill_attention_wide", "prefill_attention_wide_precise" })
            Assert.Contains($".entry {k}(", ptx);
        // Register arrays indexed only by unrolled constants: no local-memory stack frame in the attention kernels
        // (the FP8 KV cache's decode kernels, the wide variants and the tensor-core ones included).
        foreach (var k in new[] { "paged_attention", "paged_attention_fp8", "paged_attention_w4", "paged_attention_w2pf", "paged_attention_w8",
                     "paged_attention_fp8_w4", "paged_attention_fp8_w2pf", "paged_attention_fp8_w8",
                     "paged_attention_mma", "paged_attention_mma_pf", "paged_attention_mma_t2",
                     "paged_attention_mma_fp8", "paged_attention_mma_fp8_pf", "paged_attention_mma_fp8_t4",
                     "prefill_attention", "prefill_attention_wide", "prefill_attention_wide_precise" })
            Assert.DoesNotContain(".local", Entry(ptx, k));
    }

    // prefill_attention_wide's dynamic shared memory: Q (128 rows) + K + V (64 positions each) bf16 tiles, plus Q's lo
    // part when precise; the .cu carves the same regions out of pf_dynamic_smem.
    [Theory]
    [InlineData(128, false, 65536)]
    [InlineData(128, true, 98304)]
    [InlineData(64, true, 49152)]
    [InlineData(16, false, 8192)]
    public void WidePrefillSharedMemoryIsItsTiles(int headDim, bool precise, int bytes)
    {
        Assert.Equal(bytes, CudaKernels.WidePrefillSharedBytes(headDim, precise));
        Assert.Equal(2 * CudaKernels.PrefillTileRows, CudaKernels.WidePrefillTileRows);
        Assert.Equal(CudaKernels.PrefillKeyTile.ToString(System.Globalization.CultureInfo.InvariantCulture), CudaKernelSources.Defines(headDim, 4)["PF_BK"]);
    }

    // The PTX of one entry: from its .entry line to the next entry (or the end).
    private static string Entry(string ptx, string name)
    {
        int entry = ptx.IndexOf($".entry {name}(", StringComparison.Ordinal);
        Assert.True(entry >= 0, $"no entry {name}");
        int next = ptx.IndexOf(".entry", entry + 10, StringComparison.Ordinal);
        return ptx[entry..(next < 0 ? ptx.Length : next)];
    }

    // The FP8 KV cache's kernels (rope_kv.cu, paged_attention.cu, prefill_attention.cu): one byte per element, E4M3
    // decoded in registers by e4m3f (common.cu), the prefill variant still on bf16 tensor cores, with no local memory.
    [NvrtcTheory]
    [InlineData(64, 1, "compute_80")]
    [InlineData(64, 4, "compute_90")]
    [InlineData(64, 8, "compute_80")]
    [InlineData(128, 1, "compute_90")]
    [InlineData(128, 4, "compute_80")]
    [InlineData(128, 8, "compute_90")]
    [InlineData(16, 2, "compute_90")]
    [InlineData(32, 2, "compute_80")]
    public void Fp8KvCacheKernelsCompile(int headDim, int group, string arch)
    {
        var defines = CudaKernelSources.Defines(headDim, group);
        var rope = Encoding.ASCII.GetString(NvrtcCompiler.Compile(CudaKernelSources.Unit("rope_kv.cu"), "rope_kv.cu", arch, defines));
        Assert.Contains("st.global.u8", Entry(rope, "rope_qkv_write_fp8"));
        var decode = Entry(Encoding.ASCII.GetString(NvrtcCompiler.Compile(CudaKernelSources.Unit("paged_attention.cu"), "paged_attention.cu", arch, defines)), "paged_attention_fp8");
        Assert.Contains("ld.global.nc.v2.u32", decode); // 8 codes per lane per key: one 8-byte load
        Assert.DoesNotContain(".local", decode);
        // The wide variants: 16 codes per lane per key, one 16-byte load, where 16 dims per lane fit (GROUP <= 4 and
        // HEAD_DIM / 16 lanes dividing a warp); otherwise they fall back to 8 dims per lane.
        var wide = Entry(Encoding.ASCII.GetString(NvrtcCompiler.Compile(CudaKernelSources.Unit("paged_attention.cu"), "paged_attention.cu", arch, defines)), "paged_attention_fp8_w4");
        Assert.Contains(group <= 4 && headDim % 16 == 0 && 32 % (headDim / 16) == 0 ? "ld.global.nc.v4.u32" : "ld.global.nc.v2.u32", wide);
        Assert.DoesNotContain(".local", wide);
        var prefill = Entry(Encoding.ASCII.GetString(NvrtcCompiler.Compile(CudaKernelSources.Unit("prefill_attention.cu"), "prefill_attention.cu", arch, defines)), "prefill_attention_fp8");
        Assert.Contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", prefill);
        Assert.Contains("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16", prefill);
        Assert.DoesNotContain(".local", prefill);
    }

    // The tensor-core GQA decode kernels (paged_attention_mma.cu): mma.sync straight from registers (no shared-memory
    // staging), P^T transposed by movmatrix, no local memory; the FP8 ones widen E4M3 by cvt.rn.f16x2.e4m3x2 and are
    // stubs before sm_89; every kernel is a stub outside head sizes 64/128 and GROUP <= 8.
    [NvrtcTheory]
    [InlineData(64, 4, "compute_80")]
    [InlineData(64, 1, "compute_90")]
    [InlineData(128, 4, "compute_90")]
    [InlineData(128, 8, "compute_80")]
    [InlineData(128, 8, "compute_90")]
    [InlineData(128, 16, "compute_90")]
    [InlineData(32, 2, "compute_90")]
    [InlineData(256, 2, "compute_90")]
    public void MmaDecodeKernelsCompileToTensorCoreCode(int headDim, int group, string arch)
    {
        var ptx = Encoding.ASCII.GetString(NvrtcCompiler.Compile(CudaKernelSources.Unit("paged_attention_mma.cu"), "paged_attention_mma.cu", arch, CudaKernelSources.Defines(headDim, group)));
        bool supported = headDim is 64 or 128 && group <= 8;
        foreach (var k in new[] { "paged_attention_mma", "paged_attention_mma_pf", "paged_attention_mma_t2" })
        {
            var body = Entry(ptx, k);
            if (!supported) { Assert.DoesNotContain("mma.sync", body); continue; }
            Assert.Contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", body);
            Assert.Contains("movmatrix.sync.aligned.m8n8.trans.b16", body);
            Assert.DoesNotContain("ldmatrix", body);
            Assert.DoesNotContain(".local", body);
        }
        foreach (var k in new[] { "paged_attention_mma_fp8", "paged_attention_mma_fp8_pf", "paged_attention_mma_fp8_t4" })
        {
            var body = Entry(ptx, k);
            if (!supported || arch == "compute_80") { Assert.DoesNotContain("mma.sync", body); continue; }
            Assert.Contains("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32", body);
            Assert.Contains("cvt.rn.f16x2.e4m3x2", body);
            Assert.DoesNotContain(".local", body);
        }
    }

    [Fact]
    public void Fp8CodecIsDefinedOnceInThePrelude()
    {
        var prelude = CudaKernelSources.Read(CudaKernelSources.Prelude);
        Assert.Contains("unsigned f2e4m3(float f)", prelude);
        Assert.Contains("float e4m3f(unsigned c)", prelude);
        foreach (var f in CudaKernelSources.Files)
        {
            Assert.DoesNotContain("unsigned f2e4m3(float f)", CudaKernelSources.Read(f));
            Assert.DoesNotContain("float e4m3f(unsigned c)", CudaKernelSources.Read(f));
        }
    }

    [NvrtcTheory]
    [InlineData(16, 2, "compute_80")]
    [InlineData(32, 2, "compute_90")]
    [InlineData(64, 1, "compute_80")]
    [InlineData(64, 8, "compute_90")]
    [InlineData(128, 1, "compute_90")]
    [InlineData(128, 4, "compute_80")]
    [InlineData(128, 4, "compute_90")]
    [InlineData(128, 8, "compute_90")]
    public void PrefillAttentionCompilesToTensorCoreCode(int headDim, int group, string arch)
    {
        var defines = CudaKernelSources.Defines(headDim, group);
        var ptx = Encoding.ASCII.GetString(NvrtcCompiler.Compile(CudaKernelSources.Unit("prefill_attention.cu"), "prefill_attention.cu", arch, defines));
        int entry = ptx.IndexOf(".entry prefill_attention(", StringComparison.Ordinal);
        Assert.True(entry >= 0);
        var body = ptx[entry..];
        Assert.Contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", body);
        Assert.Contains("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16", body);
        Assert.Contains("cp.async.cg.shared.global", body);
        // Fragments and accumulators stay in registers (all indices unrolled constants).
        Assert.DoesNotContain(".local", body);
    }

    [NvrtcFact]
    public void PrefillAttentionIsAStubForHeadSize256()
    {
        var defines = CudaKernelSources.Defines(256, 2);
        var ptx = Encoding.ASCII.GetString(NvrtcCompiler.Compile(CudaKernelSources.Unit("prefill_attention.cu"), "prefill_attention.cu", "compute_90", defines));
        Assert.Contains(".entry prefill_attention(", ptx);
        Assert.DoesNotContain("mma.sync", ptx);
    }

    // The host constants are the only definition: every define a file requires (#ifndef NAME / #error) is one that
    // CudaKernelSources.Defines supplies, every supplied define is required somewhere, and no file defines one itself.
    [Fact]
    public void HostDefinesAreExactlyWhatTheSourcesRequire()
    {
        var required = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var f in CudaKernelSources.Files.Append(CudaKernelSources.Prelude))
        {
            var text = CudaKernelSources.Read(f);
            foreach (Match m in Regex.Matches(text, @"#ifndef\s+(\w+)\s*\n#error\s+""\1\b")) required.Add(m.Groups[1].Value);
            foreach (var name in CudaKernelSources.Defines(128, 4).Keys)
                Assert.DoesNotMatch(new Regex(@"#define\s+" + name + @"\b"), text);
        }
        Assert.Equal(required.ToArray(), CudaKernelSources.Defines(128, 4).Keys.Order(StringComparer.Ordinal).ToArray());
    }

    public static TheoryData<string> Files() => [.. CudaKernelSources.Files];

    // Without the host's defines a file that needs one does not compile, and NVRTC's log names the missing define.
    [NvrtcTheory]
    [MemberData(nameof(Files))]
    public void CompilingWithoutTheHostDefinesFailsNamingTheDefine(string file)
    {
        var needed = Regex.Matches(CudaKernelSources.Read(file), @"#ifndef\s+(\w+)\s*\n#error").Select(m => m.Groups[1].Value).ToArray();
        if (needed.Length == 0)
        {
            NvrtcCompiler.Compile(CudaKernelSources.Unit(file), file, "compute_80");
            return;
        }
        // NVRTC stops at the first #error: with no defines at all, the first one is named.
        var e = Assert.Throws<CudaException>(() => NvrtcCompiler.Compile(CudaKernelSources.Unit(file), file, "compute_80"));
        Assert.Equal("NVRTC_ERROR_COMPILATION", e.ErrorName);
        Assert.Contains($"{needed[0]} (", e.Message);
        Assert.Contains("is not defined: the host passes it", e.Message);
        // Any single one left out is enough to fail, naming that one.
        foreach (var name in needed)
        {
            var defines = CudaKernelSources.Defines(128, 4).Where(kv => kv.Key != name);
            var e2 = Assert.Throws<CudaException>(() => NvrtcCompiler.Compile(CudaKernelSources.Unit(file), file, "compute_80", defines));
            Assert.Contains($"{name} (", e2.Message);
        }
    }

    [NvrtcFact]
    public void CompileErrorsCarryTheNvrtcLog()
    {
        var e = Assert.Throws<CudaException>(() => NvrtcCompiler.Compile("extern \"C\" __global__ void k() { undefined_thing(); }", "bad.cu", "compute_80"));
        Assert.Equal("nvrtcCompileProgram", e.Call);
        Assert.Equal("NVRTC_ERROR_COMPILATION", e.ErrorName);
        Assert.Contains("undefined_thing", e.Message);
    }

    [Fact]
    public void RejectsUnknownArchitectureSpelling() =>
        Assert.Throws<ArgumentException>(() => NvrtcCompiler.Compile("x", "x.cu", "ampere"));
}
