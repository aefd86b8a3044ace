using PagedAttention.Kernels.Cuda.Interop;

namespace PagedAttention.Kernels.Cuda;

/// <summary>
/// The roofline of one GPU: peak memory bandwidth and dense tensor-core throughput (bf16 and fp8), from a table of
/// datasheet figures keyed by the device name, or — for a device not in the table — computed from the driver's
/// attributes (memory clock × bus width × 2 for DDR; SMs × clock × dense FLOPs per SM per clock for the compute
/// capability). Benchmarks judge each step against max(bytes / bandwidth, FLOPs / peak), so a compute-bound large
/// batch is not reported as a bandwidth failure, and they print the copy bandwidth measured in the same run beside it.
/// </summary>
internal sealed record DevicePeaks(string Name, double BandwidthGBs, double Bf16Tflops, double Fp8Tflops, string Source)
{
    private const int AttrClockRate = 13, AttrMemoryClockRate = 36, AttrGlobalMemoryBusWidth = 37;

    // Datasheet peaks (dense, no sparsity). Order matters: the first name fragment found in the device name wins.
    private static readonly (string Fragment, double GBs, double Bf16, double Fp8)[] Table =
    [
        ("H200", 4800, 989.4, 1978.9),
        ("H100 NVL", 3900, 835.5, 1670.9),
        ("H100 PCIe", 2000, 756.5, 1513.0),
        ("H100", 3350, 989.4, 1978.9),        // H100 SXM ("NVIDIA H100 80GB HBM3")
        ("H800", 3350, 989.4, 1978.9),
        ("GH200", 4000, 989.4, 1978.9),
        ("A100-SXM4-80GB", 2039, 312, 0),
        ("A100-SXM4-40GB", 1555, 312, 0),
        ("A100-PCIE-80GB", 1935, 312, 0),
        ("A100", 1555, 312, 0),
        ("L40S", 864, 362.1, 733),
        ("L4", 300, 121, 242.5),
    ];

    /// <summary>The peaks of <paramref name="device"/>: the table entry for its name, else computed from attributes.</summary>
    public static DevicePeaks Of(CudaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return FromName(device.Name, device.ComputeCapability, device.MultiprocessorCount) ?? FromAttributes(device);
    }

    /// <summary>The table entry whose fragment the device name contains, or null.</summary>
    internal static DevicePeaks? FromName(string name, (int Major, int Minor) cc, int sms)
    {
        foreach (var (fragment, gbs, bf16, fp8) in Table)
            if (name.Contains(fragment, StringComparison.OrdinalIgnoreCase))
                return new DevicePeaks(name, gbs, bf16, fp8, $"datasheet table ({fragment}: {gbs / 1000:0.###} TB/s, {bf16:0.#} bf16 TFLOP/s)");
        return null;
    }

    /// <summary>Dense tensor-core FLOPs per SM per clock for bf16 (fp8 is twice that from sm89 on), by compute capability.</summary>
    internal static (double Bf16, double Fp8) FlopsPerSmPerClock((int Major, int Minor) cc) => cc switch
    {
        (>= 10, _) => (8192, 16384),
        (9, _) => (4096, 8192),
        (8, 9) => (1024, 2048),
        (8, 0) => (2048, 0),
        (8, _) => (1024, 0),
        _ => (512, 0),
    };

    private static unsafe DevicePeaks FromAttributes(CudaDevice device)
    {
        var f = CuDriver.Fn;
        int dev = device.Handle, clockKHz = 0, memKHz = 0, busBits = 0;
        _ = f.cuDeviceGetAttribute(&clockKHz, AttrClockRate, dev);
        _ = f.cuDeviceGetAttribute(&memKHz, AttrMemoryClockRate, dev);
        _ = f.cuDeviceGetAttribute(&busBits, AttrGlobalMemoryBusWidth, dev);
        double gbs = 2.0 * memKHz * 1e3 * (busBits / 8.0) / 1e9;
        var (bf16, fp8) = FlopsPerSmPerClock(device.ComputeCapability);
        double clock = clockKHz * 1e3;
        return new DevicePeaks(device.Name, gbs, device.MultiprocessorCount * clock * bf16 / 1e12, device.MultiprocessorCount * clock * fp8 / 1e12,
            $"driver attributes (memory clock {memKHz / 1000} MHz x {busBits} bits x 2; {device.MultiprocessorCount} SMs x {clockKHz / 1000} MHz)");
    }

    /// <summary>
    /// Device-to-device copy bandwidth measured now, counting bytes read plus written (as the peers' figures do):
    /// best of five 1 GiB copies on the device's stream.
    /// </summary>
    public static unsafe double MeasureCopyGBs(CudaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        const long n = 1L << 30;
        using var a = device.Allocate(n);
        using var b = device.Allocate(n);
        double best = 0;
        for (int i = 0; i < 6; i++)
        {
            float ms = device.Time(() => CuDriver.Check(CuDriver.Fn.cuMemcpyDtoDAsync(b.Ptr, a.Ptr, (nuint)n, device.Stream), "cuMemcpyDtoDAsync"));
            if (i > 0) best = Math.Max(best, 2.0 * n / (ms / 1e3) / 1e9);
        }
        return best;
    }

    /// <summary>The larger of the memory and compute bounds of a step, in milliseconds.</summary>
    public (double MemoryMs, double ComputeMs) Bounds(double bytes, double flops, bool fp8 = false)
    {
        double tflops = fp8 && Fp8Tflops > 0 ? Fp8Tflops : Bf16Tflops;
        return (bytes / (BandwidthGBs * 1e9) * 1e3, tflops > 0 ? flops / (tflops * 1e12) * 1e3 : 0);
    }
}
