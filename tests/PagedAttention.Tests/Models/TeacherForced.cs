using PagedAttention.AI.Models;

namespace PagedAttention.Tests.Models;

/// <summary>
/// Two models fed the same random tokens one at a time (teacher-forced), compared at every step: top-1 agreement, KL
/// of the candidate's next-token distribution from the reference's, and the logit differences. Shared by the
/// quantized-format tests (FP8, GPTQ against their dequantized twins or their source).
/// </summary>
internal static class TeacherForced
{
    /// <summary>What the comparison saw over all steps.</summary>
    internal sealed record Result(int Steps, int Agree, double MeanKl, double WorstDiff, double MaxLogit, double SumDiff, double SumLogit)
    {
        /// <summary>Mean |logit difference| over mean |reference logit|.</summary>
        public double RelativeDiff => SumDiff / SumLogit;
    }

    /// <summary>
    /// <paramref name="sequences"/> sequences of <paramref name="length"/> tokens drawn by <c>new Random(seed)</c> from
    /// the candidate's vocabulary, through both models.
    /// </summary>
    public static Result Compare(LlamaModel candidate, LlamaModel reference, int seed, int sequences, int length)
    {
        using var a = new QuantizedModelAccuracyTests.Stepper(candidate);
        using var b = new QuantizedModelAccuracyTests.Stepper(reference);
        var rng = new Random(seed);
        int steps = 0, agree = 0;
        double kl = 0, worst = 0, maxLogit = 0, sumDiff = 0, sumLogit = 0;
        for (int seq = 0; seq < sequences; seq++)
        {
            a.Reset();
            b.Reset();
            for (int i = 0; i < length; i++)
            {
                int token = rng.Next(candidate.Config.VocabSize);
                if (a.Feed(token) == b.Feed(token)) agree++;
                steps++;
                kl += QuantizedModelAccuracyTests.Kl(b.Logits, a.Logits);
                for (int v = 0; v < a.Logits.Length; v++)
                {
                    double d = Math.Abs(a.Logits[v] - b.Logits[v]);
                    worst = Math.Max(worst, d);
                    maxLogit = Math.Max(maxLogit, Math.Abs(b.Logits[v]));
                    sumDiff += d;
                    sumLogit += Math.Abs(b.Logits[v]);
                }
            }
        }
        return new Result(steps, agree, kl / steps, worst, maxLogit, sumDiff, sumLogit);
    }
}
