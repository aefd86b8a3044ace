using System.Globalization;
using CsCheck;

namespace PagedAttention.Tests.Loading;

/// <summary>
/// Sizes and seeds of the loading fuzz tests. CI runs a fixed seed and a few thousand cases; a long run sets
/// <c>PAGEDATTENTION_TEST_FUZZ_SCALE</c> (a multiplier of the case counts, e.g. 100) and optionally
/// <c>PAGEDATTENTION_TEST_FUZZ_SEED</c> (a number, a CsCheck seed string, or "random").
/// </summary>
internal static class FuzzSettings
{
    public static double Scale =>
        double.TryParse(Environment.GetEnvironmentVariable("PAGEDATTENTION_TEST_FUZZ_SCALE"), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : 1;

    public static long Iterations(int ciCount) => Math.Max(1, (long)(ciCount * Scale));

    /// <summary>The CsCheck seed: the environment's, else a fixed one per test so that CI is reproducible.</summary>
    public static string? Seed(uint testStream)
    {
        string? env = Environment.GetEnvironmentVariable("PAGEDATTENTION_TEST_FUZZ_SEED");
        if (env == "random") return null;
        if (env is null) return new PCG(testStream, 2026).ToString();
        return ulong.TryParse(env, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? new PCG(testStream, n).ToString() : env;
    }

    /// <summary>Most bytes one case may allocate on its thread, and most time it may take.</summary>
    public const long MaxAllocatedBytesPerCase = 256L << 20;
    public static readonly TimeSpan MaxTimePerCase = TimeSpan.FromSeconds(5);
}
