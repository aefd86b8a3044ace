using System.IO.MemoryMappedFiles;
using PagedAttention.AI.Models;
using PagedAttention.Kernels;
using PagedAttention.Kernels.Cpu;
using PagedAttention.Tests.Models;

namespace PagedAttention.Tests.Kernels;

/// <summary>
/// Huge-page memory for the CPU weights (<see cref="HugePageMemory"/>, <see cref="WeightArena"/>,
/// <c>RuntimeSwitches.CpuHugePages</c>): alignment, that a released file range still reads the same, that a copy holds
/// the source's elements, and that a model with its weights copied gives bit for bit the logits of one reading the
/// mapped file.
/// </summary>
public sealed unsafe class HugePageMemoryTests
{
    [Fact]
    public void AnAllocationOfAHugePageOrMore_IsAlignedToIt_OnLinux()
    {
        nuint bytes = (3u << 20) + 5;
        byte* p = (byte*)HugePageMemory.Alloc(bytes, hugePages: true);
        try
        {
            if (OperatingSystem.IsLinux()) Assert.Equal(0, (long)((nuint)p % HugePageMemory.HugePageBytes));
            else Assert.Equal(0, (long)((nuint)p % 64));
            for (nuint i = 0; i < bytes; i += 4093) p[i] = (byte)(i * 7);
            p[bytes - 1] = 0xAB;
            for (nuint i = 0; i < bytes; i += 4093) Assert.Equal((byte)(i * 7), p[i]);
            Assert.Equal(0xAB, p[bytes - 1]);
        }
        finally { HugePageMemory.Free(p); }
    }

    [Theory]
    [InlineData(100, true)]       // below one huge page: no 2 MiB rounding
    [InlineData(4 << 20, false)]  // huge pages not asked for
    [InlineData(0, true)]
    public void OtherAllocations_Are64ByteAligned(int bytes, bool huge)
    {
        void* p = HugePageMemory.Alloc((nuint)bytes, huge);
        try
        {
            Assert.True(p != null);
            Assert.Equal(0, (long)((nuint)p % 64));
        }
        finally { HugePageMemory.Free(p); }
    }

    [Fact]
    public void AReleasedFileRange_StillReadsTheFilesBytes()
    {
        string path = Path.GetTempFileName();
        try
        {
            var data = new byte[64 * 1024 + 123];
            new Random(5).NextBytes(data);
            File.WriteAllBytes(path, data);
            using var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            using var view = map.CreateViewAccessor(0, data.Length, MemoryMappedFileAccess.Read);
            byte* b = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref b);
            try
            {
                byte* p = b + view.PointerOffset;
                Assert.True(new ReadOnlySpan<byte>(p, data.Length).SequenceEqual(data));
                HugePageMemory.ReleaseFileRange((nint)(p + 100), 50_000); // not page-aligned at either end
                Assert.True(new ReadOnlySpan<byte>(p, data.Length).SequenceEqual(data));
            }
            finally { view.SafeMemoryMappedViewHandle.ReleasePointer(); }
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void ACopy_HoldsTheSourcesElements(string dtypeName)
    {
        var dtype = Enum.Parse<DType>(dtypeName);
        using var arena = new WeightArena();
        using var big = new TestWeights(dtype, 1031, 2050, new Random(3)); // > 2 MiB in every dtype
        using var small = new TestWeights(dtype, 17, 300, new Random(4));
        using var huge = new TestWeights(dtype, 9000, 2048, new Random(5)); // > one 64 MiB chunk in F32: its own chunk
        foreach (var w in new[] { big, small, big, huge, small })
        {
            var copy = arena.Copy(w.Matrix, releaseSource: false);
            Assert.NotEqual(w.Matrix.Data, copy.Data);
            Assert.Equal(0, copy.Data % 64);
            Assert.Equal((w.Matrix.DType, w.Matrix.Rows, w.Matrix.Cols), (copy.DType, copy.Rows, copy.Cols));
            long bytes = w.Matrix.SizeInBytes;
            Assert.True(new ReadOnlySpan<byte>((void*)w.Matrix.Data, (int)bytes).SequenceEqual(new ReadOnlySpan<byte>((void*)copy.Data, (int)bytes)));
        }
        Assert.Equal(2 * (big.Matrix.SizeInBytes + small.Matrix.SizeInBytes) + huge.Matrix.SizeInBytes, arena.Bytes);
    }

    [Fact]
    public void QuantizedMatricesAreNotCopied()
    {
        using var arena = new WeightArena();
        using var w = new TestWeights(DType.BF16, 8, 64, new Random(1));
        using var q = QuantizedMatrix.Quantize(w.Matrix, DType.Int8, hugePages: true);
        var e = Assert.Throws<ArgumentException>(() => arena.Copy(q.Matrix, releaseSource: false));
        Assert.Contains("Int8", e.Message);
        Assert.Throws<ArgumentException>(() => arena.Copy(default, releaseSource: false));
    }

    [Theory]
    [InlineData("llama", null)]
    [InlineData("llama-bf16", null)]
    [InlineData("qwen3", null)]
    [InlineData("llama-bf16", "Int8")]
    [InlineData("llama-bf16", "Int4")]
    public void HugePageWeights_GiveTheMappedFilesLogits_BitForBit(string name, string? formatName)
    {
        DType? format = formatName is null ? null : Enum.Parse<DType>(formatName);
        using var mapped = LlamaModel.Load(TestData.Model(name), format, format, hugePages: false);
        using var copied = LlamaModel.Load(TestData.Model(name), format, format, hugePages: true);
        Assert.NotEqual(mapped.Layer(0).Q.Data, copied.Layer(0).Q.Data);
        using var a = new QuantizedModelAccuracyTests.Stepper(mapped);
        using var b = new QuantizedModelAccuracyTests.Stepper(copied);
        var r = new Random(11);
        for (int i = 0; i < 12; i++)
        {
            int t = r.Next(3, mapped.Config.VocabSize);
            Assert.Equal(a.Feed(t), b.Feed(t));
            Assert.Equal(a.Logits, b.Logits); // exact: the same elements in the same order
        }
    }
}
