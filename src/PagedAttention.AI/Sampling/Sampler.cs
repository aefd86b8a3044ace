namespace PagedAttention.AI.Sampling;

/// <summary>
/// Picks the next token of one sequence from its logits row: penalties (repetition, frequency, presence), min-tokens
/// masking, then greedy argmax or temperature + min-p + top-k + top-p sampling with the sequence's own RNG.
/// Scratch buffers are sized to the vocabulary once; top-k and top-p use partial selection (expected O(V)), not sorts.
/// Runs on the step-loop thread; not thread-safe.
/// </summary>
internal sealed class Sampler
{
    private readonly int _vocab;
    private readonly float[] _raw;
    private readonly float[] _probs;
    private readonly int[] _idx;
    private readonly int[] _counts;
    private readonly int[] _stamp;
    private int _stampValue;

    public Sampler(int vocabSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        _vocab = vocabSize;
        _raw = new float[vocabSize];
        _probs = new float[vocabSize];
        _idx = new int[vocabSize];
        _counts = new int[vocabSize];
        _stamp = new int[vocabSize];
    }

    /// <summary>Temperatures below this are treated as greedy.</summary>
    public const float GreedyEpsilon = 1e-5f;

    /// <summary>
    /// Samples one token. <paramref name="logits"/> (one row, VocabSize long) is modified in place. When
    /// <paramref name="topLogprobs"/> is non-empty it receives the most likely tokens of the raw distribution, best first,
    /// and <paramref name="logprob"/> the raw log-probability of the chosen token (NaN otherwise).
    /// </summary>
    public int Sample(Span<float> logits, SamplingParams p, ReadOnlySpan<int> prompt, ReadOnlySpan<int> output,
        ref SamplingRng rng, IReadOnlyList<int> eosTokenIds, Span<TokenLogprob> topLogprobs, out float logprob)
    {
        if (logits.Length != _vocab) throw new ArgumentException($"Expected {_vocab} logits, got {logits.Length}.", nameof(logits));
        bool wantLogprobs = !topLogprobs.IsEmpty;
        float logZ = 0;
        if (wantLogprobs)
        {
            logits.CopyTo(_raw);
            logZ = LogSumExp(logits);
            TopK(logits, topLogprobs, logZ);
        }

        ApplyPenalties(logits, p, prompt, output);
        if (output.Length < p.MinTokens)
        {
            // Stop tokens may not end the sequence yet.
            if (!p.IgnoreEos) for (int i = 0; i < eosTokenIds.Count; i++) logits[eosTokenIds[i]] = float.NegativeInfinity;
            for (int i = 0; i < p.StopTokenIds.Count; i++) logits[p.StopTokenIds[i]] = float.NegativeInfinity;
        }

        int token = p.Temperature < GreedyEpsilon ? ArgMax(logits) : SampleRandom(logits, p, ref rng);
        logprob = wantLogprobs ? _raw[token] - logZ : float.NaN;
        return token;
    }

    private void ApplyPenalties(Span<float> logits, SamplingParams p, ReadOnlySpan<int> prompt, ReadOnlySpan<int> output)
    {
        if (p.RepetitionPenalty != 1f)
        {
            // Each distinct token once: a stamp array avoids clearing a vocabulary-sized set every step.
            int stamp = NextStamp();
            float r = p.RepetitionPenalty;
            Penalize(logits, prompt, stamp, r);
            Penalize(logits, output, stamp, r);
        }
        if (p.FrequencyPenalty != 0f || p.PresencePenalty != 0f)
        {
            foreach (int t in output) _counts[t]++;
            foreach (int t in output)
            {
                int c = _counts[t];
                if (c == 0) continue;
                logits[t] -= p.FrequencyPenalty * c + p.PresencePenalty;
                _counts[t] = 0;
            }
        }
    }

    private void Penalize(Span<float> logits, ReadOnlySpan<int> tokens, int stamp, float r)
    {
        foreach (int t in tokens)
        {
            if (_stamp[t] == stamp) continue;
            _stamp[t] = stamp;
            logits[t] = logits[t] > 0 ? logits[t] / r : logits[t] * r;
        }
    }

    private int NextStamp()
    {
        if (++_stampValue == int.MaxValue)
        {
            Array.Clear(_stamp);
            _stampValue = 1;
        }
        return _stampValue;
    }

    private int SampleRandom(ReadOnlySpan<float> logits, SamplingParams p, ref SamplingRng rng)
    {
        var idx = _idx.AsSpan();
        int m;
        if (p.TopK > 0 && p.TopK < _vocab)
        {
            for (int i = 0; i < _vocab; i++) idx[i] = i;
            SelectTop(idx, logits, p.TopK);
            m = p.TopK;
        }
        else
        {
            m = 0;
            for (int i = 0; i < _vocab; i++) if (!float.IsNegativeInfinity(logits[i])) idx[m++] = i;
        }

        float max = float.NegativeInfinity;
        for (int i = 0; i < m; i++) max = MathF.Max(max, logits[idx[i]]);
        if (float.IsNegativeInfinity(max)) return ArgMax(logits);
        float invT = 1f / p.Temperature;
        double mass = 0;
        for (int i = 0; i < m; i++)
        {
            int t = idx[i];
            float e = MathF.Exp((logits[t] - max) * invT);
            _probs[t] = e;
            mass += e;
        }

        if (p.MinP > 0)
        {
            // Unnormalized: the top token has weight exp(0) = 1, so the cut is MinP itself.
            int kept = 0;
            mass = 0;
            for (int i = 0; i < m; i++)
            {
                int t = idx[i];
                if (_probs[t] >= p.MinP) { idx[kept++] = t; mass += _probs[t]; }
            }
            m = kept;
        }

        if (p.TopP < 1f)
        {
            m = NucleusCut(idx[..m], _probs, p.TopP * mass);
            mass = 0;
            for (int i = 0; i < m; i++) mass += _probs[idx[i]];
        }

        double u = rng.NextDouble() * mass;
        double acc = 0;
        for (int i = 0; i < m; i++)
        {
            acc += _probs[idx[i]];
            if (u < acc) return idx[i];
        }
        return idx[m - 1];
    }

    private void TopK(ReadOnlySpan<float> logits, Span<TokenLogprob> dest, float logZ)
    {
        int k = Math.Min(dest.Length, _vocab);
        var idx = _idx.AsSpan();
        for (int i = 0; i < _vocab; i++) idx[i] = i;
        SelectTop(idx, logits, k);
        var top = idx[..k];
        // k is small (a handful of logprobs): an insertion sort of the selected few is cheap.
        for (int i = 1; i < k; i++)
        {
            int t = top[i], j = i - 1;
            while (j >= 0 && (logits[top[j]] < logits[t] || (logits[top[j]] == logits[t] && top[j] > t))) { top[j + 1] = top[j]; j--; }
            top[j + 1] = t;
        }
        for (int i = 0; i < k; i++) dest[i] = new TokenLogprob(top[i], logits[top[i]] - logZ);
        for (int i = k; i < dest.Length; i++) dest[i] = new TokenLogprob(-1, float.NegativeInfinity);
    }

    /// <summary>Rearranges <paramref name="idx"/> so its first <paramref name="k"/> entries have the largest keys (quickselect).</summary>
    internal static void SelectTop(Span<int> idx, ReadOnlySpan<float> key, int k)
    {
        int lo = 0, hi = idx.Length - 1;
        while (lo < hi)
        {
            float pivot = Median(key[idx[lo]], key[idx[(lo + hi) >> 1]], key[idx[hi]]);
            int i = lo, j = hi;
            while (i <= j)
            {
                while (key[idx[i]] > pivot) i++;
                while (key[idx[j]] < pivot) j--;
                if (i <= j) { (idx[i], idx[j]) = (idx[j], idx[i]); i++; j--; }
            }
            if (k - 1 <= j) hi = j;
            else if (k - 1 >= i) lo = i;
            else return;
        }
    }

    /// <summary>
    /// Moves the smallest set of highest-probability entries whose mass reaches <paramref name="target"/> to the
    /// front of <paramref name="idx"/> and returns its size. Three-way quickselect on mass: expected O(n).
    /// Ties at the boundary are kept together.
    /// </summary>
    internal static int NucleusCut(Span<int> idx, ReadOnlySpan<float> prob, double target)
    {
        int lo = 0, hi = idx.Length;
        double acc = 0;
        while (lo < hi)
        {
            float pivot = Median(prob[idx[lo]], prob[idx[(lo + hi - 1) >> 1]], prob[idx[hi - 1]]);
            int gt = lo, i = lo, lt = hi; // [lo,gt) > pivot, [gt,i) == pivot, [lt,hi) < pivot
            while (i < lt)
            {
                float v = prob[idx[i]];
                if (v > pivot) { (idx[gt], idx[i]) = (idx[i], idx[gt]); gt++; i++; }
                else if (v < pivot) { lt--; (idx[lt], idx[i]) = (idx[i], idx[lt]); }
                else i++;
            }
            double greater = 0;
            for (int j = lo; j < gt; j++) greater += prob[idx[j]];
            if (acc + greater >= target && gt > lo) { hi = gt; continue; }
            acc += greater;
            for (int j = gt; j < lt; j++) acc += prob[idx[j]];
            if (acc >= target) return lt;
            lo = lt;
        }
        return Math.Max(lo, 1);
    }

    private static float Median(float a, float b, float c) =>
        a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));

    internal static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    private static float LogSumExp(ReadOnlySpan<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x) max = MathF.Max(max, v);
        double sum = 0;
        foreach (float v in x) sum += Math.Exp(v - max);
        return max + (float)Math.Log(sum);
    }
}
