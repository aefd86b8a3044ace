using System.Buffers.Binary;
using System.Text.Json.Nodes;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.AI.Models.Cuda;
using PagedAttention.Kernels;
using PagedAttention.Kernels.Cuda;
using PagedAttention.Tests.Loading;

namespace PagedAttention.Tests.Kernels;

/// <summary>
/// The FP8 KV cache's host side (docs/cuda.md, "FP8 KV cache"): the element rule <see cref="Fp8KvCache"/> (the
/// reference of the device kernels) exactly on known values, every code, saturation and ties; the device's bit-trick
/// decoder (<c>e4m3f</c> in common.cu) replayed on the host; block sizing (twice the blocks for the same bytes);
/// the option's validation; the checkpoint's k/v scales.
/// </summary>
public class Fp8KvCacheTests
{
    [Fact]
    public void EveryCodeRoundTrips()
    {
        for (int c = 0; c < 256; c++)
        {
            byte code = (byte)c;
            if ((c & 0x7F) == 0x7F)
            {
                Assert.True(float.IsNaN(Fp8KvCache.Decode(code, 1f)));
                Assert.Equal(0x7F, Fp8KvCache.Encode(Fp8KvCache.Decode(code, 1f), 1f)); // NaN stays NaN
                continue;
            }
            Assert.Equal(code, Fp8KvCache.Encode(Fp8KvCache.Decode(code, 1f), 1f));
            // A power-of-two scale moves no rounding boundary: the same codes come back.
            Assert.Equal(code, Fp8KvCache.Encode(Fp8KvCache.Decode(code, 0.25f), 0.25f));
        }
    }

    [Theory]
    [InlineData(0x00, 0f)]
    [InlineData(0x01, 1f / 512)]      // smallest subnormal, 2^-9
    [InlineData(0x07, 7f / 512)]      // largest subnormal
    [InlineData(0x08, 1f / 64)]       // smallest normal, 2^-6
    [InlineData(0x38, 1f)]
    [InlineData(0x39, 1.125f)]
    [InlineData(0x3C, 1.5f)]
    [InlineData(0x7E, 448f)]          // largest finite
    [InlineData(0xB8, -1f)]
    [InlineData(0xFE, -448f)]
    public void KnownCodesDecodeExactly(int code, float value)
    {
        Assert.Equal(value, Fp8KvCache.Decode((byte)code, 1f));
        Assert.Equal(value * 0.0123f, Fp8KvCache.Decode((byte)code, 0.0123f));
        Assert.Equal((byte)code, Fp8KvCache.Encode(value, 1f));
    }

    [Fact]
    public void NegativeZeroKeepsItsSign() => Assert.Equal(0x80, Fp8KvCache.Encode(-0f, 1f));

    [Theory]
    [InlineData(448f, 0x7E)]
    [InlineData(449f, 0x7E)]
    [InlineData(480f, 0x7E)]          // where a non-saturating cast would overflow to NaN
    [InlineData(1e30f, 0x7E)]
    [InlineData(float.PositiveInfinity, 0x7E)]
    [InlineData(-500f, 0xFE)]
    [InlineData(float.NegativeInfinity, 0xFE)]
    [InlineData(float.NaN, 0x7F)]
    public void LargeMagnitudesSaturate(float x, int code) => Assert.Equal((byte)code, Fp8KvCache.Encode(x, 1f));

    [Theory]
    [InlineData(1.0625f, 0x38)]       // halfway 1 (even) / 1.125: down
    [InlineData(1.1875f, 0x3A)]       // halfway 1.125 / 1.25 (even): up
    [InlineData(1.0625001f, 0x39)]    // just above the tie: nearest
    [InlineData(0.5f / 512, 0x00)]    // halfway 0 / 2^-9: to 0 (even)
    [InlineData(1.5f / 512, 0x02)]    // halfway 1 / 2 subnormal codes: to 2 (even)
    [InlineData(432f, 0x7E)]          // halfway 416 (0x7D) / 448 (0x7E, even): up
    [InlineData(-1.0625f, 0xB8)]
    public void TiesGoToTheEvenCode(float x, int code) => Assert.Equal((byte)code, Fp8KvCache.Encode(x, 1f));

    [Fact]
    public void TheScaleDividesBeforeRounding()
    {
        Assert.Equal(0x3C, Fp8KvCache.Encode(3f, 2f));           // 3 / 2 = 1.5
        Assert.Equal(0x7E, Fp8KvCache.Encode(10f, 1f / 64));     // 640 saturates
        Assert.Equal(448f / 64, Fp8KvCache.Decode(0x7E, 1f / 64));
        Assert.Equal(1f, Fp8KvCache.DefaultScale);
    }

    // common.cu's e4m3f: the code's low 7 bits placed at bit 20 of a float, times 2^120, NaN for S.1111.111, the sign
    // or-ed in. The same arithmetic here must give Fp8E4M3.ToSingle for all 256 codes (float denormals included).
    [Fact]
    public void DeviceDecoderFormulaMatchesTheReference()
    {
        for (int c = 0; c < 256; c++)
        {
            uint u = (uint)c;
            float v = BitConverter.UInt32BitsToSingle((u & 0x7Fu) << 20) * 1.329227995784916e36f;
            if ((u & 0x7Fu) == 0x7Fu) v = float.NaN;
            v = BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(v) | ((u & 0x80u) << 24));
            float want = Fp8E4M3.ToSingle((byte)c);
            if (float.IsNaN(want)) Assert.True(float.IsNaN(v));
            else Assert.Equal(BitConverter.SingleToUInt32Bits(want), BitConverter.SingleToUInt32Bits(v));
        }
        Assert.Equal(1.329227995784916e36f, MathF.Pow(2, 120));
    }

    [Fact]
    public void Fp8BlocksAreHalfTheBytesSoTheSameMemoryHoldsTwiceAsMany()
    {
        // Llama-3-8B shape: 32 layers, 8 KV heads, head 128, 16-token blocks: 2 MiB per bf16 block, 1 MiB per FP8 block.
        long bf16 = CudaKvCache.BytesPerBlock(32, 16, 8, 128), fp8 = CudaKvCache.BytesPerBlock(32, 16, 8, 128, Fp8KvCache.ElementBytes);
        Assert.Equal(2L << 20, bf16);
        Assert.Equal(1L << 20, fp8);
        Assert.Equal(bf16, CudaKvCache.BytesPerBlock(32, 16, 8, 128, CudaKvCache.ElementBytesOf(fp8: false)));
        Assert.Equal(fp8, CudaKvCache.BytesPerBlock(32, 16, 8, 128, CudaKvCache.ElementBytesOf(fp8: true)));
        long budget = 100L << 30;
        Assert.Equal(51_200, CudaModelRunner.KvBlocksFor(budget, bf16));
        Assert.Equal(102_400, CudaModelRunner.KvBlocksFor(budget, fp8));
        // In general: exactly twice, or twice plus one when the leftover holds one more FP8 block.
        foreach (long b in new[] { 0L, 1, (3L << 20) - 1, 3L << 20, (5L << 20) + 7, 123_456_789_012 })
        {
            long n2 = CudaModelRunner.KvBlocksFor(b, bf16), n1 = CudaModelRunner.KvBlocksFor(b, fp8);
            Assert.InRange(n1 - 2 * n2, 0, 1);
        }
        Assert.Equal(0, CudaModelRunner.KvBlocksFor(-5, fp8));
        Assert.Throws<ArgumentOutOfRangeException>(() => CudaKvCache.BytesPerBlock(32, 16, 8, 128, 4));
    }

    [Fact]
    public void OptionIsCudaOnly()
    {
        Assert.Equal(KvCacheDtype.Auto, new EngineOptions().KvCacheDtype);
        new EngineOptions { Device = "cuda", KvCacheDtype = KvCacheDtype.Fp8E4M3 }.Validate();
        new EngineOptions { Device = "cpu", KvCacheDtype = KvCacheDtype.Auto }.Validate();
        var e = Assert.Throws<ArgumentException>(new EngineOptions { Device = "cpu", KvCacheDtype = KvCacheDtype.Fp8E4M3 }.Validate);
        Assert.Equal(nameof(EngineOptions.KvCacheDtype), e.ParamName);
        Assert.Contains("EngineOptions.KvCacheDtype Fp8E4M3 is CUDA-only", e.Message);
        var u = Assert.Throws<ArgumentException>(new EngineOptions { Device = "cuda", KvCacheDtype = (KvCacheDtype)7 }.Validate);
        Assert.Equal(nameof(EngineOptions.KvCacheDtype), u.ParamName);
    }

    [Fact]
    public async Task CpuEngineRefusesFp8KvCacheNamingTheOption()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() =>
            LlmEngine.LoadAsync(new EngineOptions { ModelPath = TestData.Model("llama"), Device = "cpu", KvCacheDtype = KvCacheDtype.Fp8E4M3 }));
        Assert.Contains("KvCacheDtype", e.Message);
    }

    [Fact]
    public void ScalesComeFromTheCheckpointOrDefaultToOne()
    {
        using var dir = ScratchModelDir.Llama();
        AddScalars(dir, ("model.layers.0.self_attn.k_scale", 0.5f, true), ("model.layers.0.self_attn.v_scale", 0.25f, false));
        var config = ModelConfig.Load(dir.Dir);
        using var t = CheckpointTensors.Open(dir.Dir);
        var s = KvCacheScales.Read(t, config);
        Assert.Equal(config.NumLayers, s.Length);
        Assert.Equal(new KvScales(0.5f, 0.25f), s[0]);
        for (int l = 1; l < s.Length; l++) Assert.Equal(new KvScales(1f, 1f), s[l]);
    }

    [Theory]
    [InlineData(-1f)]
    [InlineData(0f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void BadScalesFailTheLoadNamingTheTensor(float bad)
    {
        using var dir = ScratchModelDir.Llama();
        AddScalars(dir, ("model.layers.1.self_attn.v_scale", bad, true));
        var config = ModelConfig.Load(dir.Dir);
        using var t = CheckpointTensors.Open(dir.Dir);
        var e = Assert.Throws<ModelLoadException>(() => KvCacheScales.Read(t, config));
        Assert.Contains("model.layers.1.self_attn.v_scale", e.Message);
        Assert.Contains("not a finite positive number", e.Message);
    }

    // Appends F32 scalars (shape [] or [1]) to the scratch copy's model.safetensors.
    private static void AddScalars(ScratchModelDir dir, params (string Name, float Value, bool Rank0)[] scalars)
    {
        var (header, data) = dir.ReadSafeTensors();
        var bytes = new List<byte>(data);
        foreach (var (name, value, rank0) in scalars)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(b, value);
            header[name] = new JsonObject { ["dtype"] = "F32", ["shape"] = rank0 ? new JsonArray() : new JsonArray(1), ["data_offsets"] = new JsonArray(bytes.Count, bytes.Count + 4) };
            bytes.AddRange(b);
        }
        dir.WriteSafeTensors(header, [.. bytes]);
    }
}
