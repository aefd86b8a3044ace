using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace PagedAttention.AI.Sampling;

/// <summary>
/// Picks the next token of one sequence from its logits row: penalties (repetition, frequency, presence), min-tokens
/// masking, then greedy argmax or temperature + min-p + top-k + top-p sampling with the sequence's own RNG.
/// Scratch buffers are sized to the vocabulary once and nothing is sorted over the vocabulary: logprobs (at most 64)
/// and top-k ≤ 64 come from one vectorized pass against a running threshold, larger top-k from quickselect, and
/// top-p without top-k from a histogram of the weights with the exact cut (quickselect on mass) only in its edge bin.
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
    private readonly double[] _binMass = new double[1024];
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
    public int Sample(Span<float> logits, in SamplingRow p, ReadOnlySpan<int> prompt, ReadOnlySpan<int> output,
        ReadOnlySpan<int> endTokenIds, ref SamplingRng rng, Span<TokenLogprob> topLogprobs, out float logprob) =>
        Sample(logits, p, prompt, output, endTokenIds, [], ref rng, topLogprobs, out logprob);

    /// <summary>
    /// Samples one token among those <paramref name="allowedTokens"/> allows: a grammar's bitmask of
    /// <see cref="MaskWords"/> words, bit <c>t % 32</c> of word <c>t / 32</c> set = token t allowed (empty: every token).
    /// The mask comes first, before penalties, temperature, top-k/p and min-p, so those act on the allowed set, and
    /// logprobs are those of the masked distribution. Throws <see cref="InvalidOperationException"/> when the mask
    /// leaves no finite logit.
    /// </summary>
    public int Sample(Span<float> logits, in SamplingRow p, ReadOnlySpan<int> prompt, ReadOnlySpan<int> output,
        ReadOnlySpan<int> endTokenIds, ReadOnlySpan<uint> allowedTokens, ref SamplingRng rng, Span<TokenLogprob> topLogprobs, out float logprob)
    {
        if (logits.Length != _vocab) throw new ArgumentException($"Expected {_vocab} logits, got {logits.Length}.", nameof(logits));
        if (topLogprobs.Length > StreamingTopKMax) throw new ArgumentException($"At most {StreamingTopKMax} top logprobs, got {topLogprobs.Length}.", nameof(topLogprobs));
        if (!allowedTokens.IsEmpty) ApplyMask(logits, allowedTokens);
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
            // End tokens (eos unless ignored, stop ids) may not end the sequence yet.
            foreach (int t in endTokenIds) logits[t] = float.NegativeInfinity;
        }

        int token = p.IsGreedy ? ArgMax(logits) : SampleRandom(logits, p, ref rng);
        if (!allowedTokens.IsEmpty && float.IsNegativeInfinity(logits[token]))
            throw new InvalidOperationException("The constraint allowed no token with a finite logit at this position (its allowed tokens are all held back, e.g. end tokens before MinTokens).");
        logprob = wantLogprobs ? _raw[token] - logZ : float.NaN;
        return token;
    }

    /// <summary>32-bit words of an allowed-token mask over a vocabulary of <paramref name="vocab"/> tokens.</summary>
    public static int MaskWords(int vocab) => (vocab + 31) >> 5;

    // Forbidden tokens become -inf. Grammar masks are mostly all-zero words (a JSON grammar allows a few hundred of
    // 128k tokens), filled 32 at a time; all-ones words are skipped; mixed words clear bit by bit.
    private void ApplyMask(Span<float> logits, ReadOnlySpan<uint> allowed)
    {
        int words = MaskWords(_vocab);
        if (allowed.Length != words) throw new ArgumentException($"Expected a mask of {words} words for {_vocab} tokens, got {allowed.Length}.", nameof(allowed));
        bool any = false;
        for (int w = 0; w < words; w++)
        {
            uint bits = allowed[w];
            int start = w << 5, len = Math.Min(32, _vocab - start);
            if (len < 32) bits &= (1u << len) - 1; // bits past the vocabulary mean nothing
            if (bits == uint.MaxValue) { any = any || HasFinite(logits.Slice(start, 32)); continue; }
            if (bits == 0) { logits.Slice(start, len).Fill(float.NegativeInfinity); continue; }
            for (uint forbid = ~bits & (len < 32 ? (1u << len) - 1 : uint.MaxValue); forbid != 0; forbid &= forbid - 1)
                logits[start + BitOperations.TrailingZeroCount(forbid)] = float.NegativeInfinity;
            if (!any)
                for (uint keep = bits; keep != 0; keep &= keep - 1)
                    if (float.IsFinite(logits[start + BitOperations.TrailingZeroCount(keep)])) { any = true; break; }
        }
        if (!any) throw new InvalidOperationException("The constraint allowed no token with a finite logit at this position.");
    }

    private static bool HasFinite(ReadOnlySpan<float> x)
    {
        foreach (float v in x) if (float.IsFinite(v)) return true;
        return false;
    }

    private void ApplyPenalties(Span<float> logits, in SamplingRow p, ReadOnlySpan<int> prompt, ReadOnlySpan<int> output)
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

    private int SampleRandom(ReadOnlySpan<float> logits, in SamplingRow p, ref SamplingRng rng)
    {
        var idx = _idx.AsSpan();
        int m;
        if (p.TopK > 0 && p.TopK < _vocab)
        {
            if (p.TopK <= StreamingTopKMax) StreamingTopK(logits, idx[..p.TopK]);
            else
            {
                for (int i = 0; i < _vocab; i++) idx[i] = i;
                SelectTop(idx, logits, p.TopK);
            }
            m = p.TopK;
        }
        else return SampleDense(logits, p, ref rng);

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

    // Sampling over the whole vocabulary (no top-k): temperature, min-p, top-p. One vector pass writes every weight
    // e_i = exp((x_i - max) / T) into _probs (0 where excluded: -inf logits, below min-p) and sums them. Top-p then
    // needs the smallest set of heaviest weights holding TopP of the mass: a histogram of the weights by their float
    // bits (1/8 octave per bin, monotonic) finds the bin where that mass is crossed; every weight above it is in, and
    // only that bin's members go through the exact selection (NucleusCut, ties kept together). Without top-p the draw
    // walks the dense weights directly.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int SampleDense(ReadOnlySpan<float> logits, in SamplingRow p, ref SamplingRng rng)
    {
        float max = TensorPrimitives.Max(logits);
        if (!float.IsFinite(max)) return ArgMax(logits); // all -inf (or NaN): nothing to weigh
        var probs = _probs.AsSpan();
        float invT = 1f / p.Temperature;
        var vmax = Vector256.Create(max);
        var vinvT = Vector256.Create(invT);
        var vfloor = Vector256.Create(p.MinP > 0 ? p.MinP : 1e-37f); // ExpNonPositive's floor (~1.2e-38) counts as 0
        ref float x0 = ref MemoryMarshal.GetReference(logits);
        ref float p0 = ref MemoryMarshal.GetReference(probs);
        double mass = 0;
        int i = 0;
        while (i <= _vocab - 8)
        {
            var acc = Vector256<float>.Zero;
            int end = Math.Min(_vocab - 7, i + 1024);
            for (; i < end; i += 8)
            {
                var e = ExpNonPositive((Vector256.LoadUnsafe(ref x0, (nuint)i) - vmax) * vinvT);
                e = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(e, vfloor), e, Vector256<float>.Zero);
                e.StoreUnsafe(ref p0, (nuint)i);
                acc += e;
            }
            mass += Vector256.Sum(Vector256.WidenLower(acc) + Vector256.WidenUpper(acc));
        }
        float floor = vfloor[0];
        for (; i < _vocab; i++)
        {
            float e = MathF.Exp((logits[i] - max) * invT);
            probs[i] = e >= floor ? e : 0f;
            mass += probs[i];
        }

        if (p.TopP >= 1f)
        {
            double u0 = rng.NextDouble() * mass, run = 0;
            int last = 0;
            for (int t = 0; t < _vocab; t++)
            {
                if (probs[t] == 0f) continue;
                last = t;
                run += probs[t];
                if (u0 < run) return t;
            }
            return last;
        }

        var bins = _binMass.AsSpan();
        bins.Clear();
        for (int t = 0; t < _vocab; t++)
            if (probs[t] != 0f) bins[(int)(BitConverter.SingleToUInt32Bits(probs[t]) >> 20)] += probs[t];
        double target = p.TopP * mass, above = 0;
        int edge = bins.Length - 1;
        for (; edge > 0; edge--)
        {
            if (above + bins[edge] >= target) break;
            above += bins[edge];
        }
        // Weights above the edge bin, in id order, then the edge bin's members (gathered from the back of idx).
        var idx = _idx.AsSpan();
        int m = 0, inEdge = 0;
        // Branch-free (which side a weight falls on is data, not a pattern): both free slots are written, one counter
        // moves. The front slot never passes the back one, so no member is overwritten.
        for (int t = 0; t < _vocab; t++)
        {
            uint bits = BitConverter.SingleToUInt32Bits(probs[t]);
            int bin = (int)(bits >> 20);
            idx[m] = t;
            idx[_vocab - 1 - inEdge] = t;
            m += bin > edge ? 1 : 0;
            inEdge += (bin == edge) & (bits != 0) ? 1 : 0;
        }
        var edgeMembers = idx.Slice(_vocab - inEdge, inEdge);
        edgeMembers.Reverse();
        edgeMembers.CopyTo(idx.Slice(m, inEdge)); // may overlap: CopyTo moves like memmove
        int cut = inEdge == 0 ? 0 : NucleusCut(idx.Slice(m, inEdge), probs, target - above);
        double kept = above; // the bins' sums of everything above the edge
        for (int t = m; t < m + cut; t++) kept += probs[idx[t]];
        m += cut;
        double u = rng.NextDouble() * kept, cum = 0;
        for (int t = 0; t < m; t++)
        {
            cum += probs[idx[t]];
            if (u < cum) return idx[t];
        }
        return idx[m - 1];
    }

    private void TopK(ReadOnlySpan<float> logits, Span<TokenLogprob> dest, float logZ)
    {
        int k = Math.Min(dest.Length, _vocab);
        var top = _idx.AsSpan(0, k);
        StreamingTopK(logits, top);
        for (int i = 0; i < k; i++) dest[i] = new TokenLogprob(top[i], logits[top[i]] - logZ);
        for (int i = k; i < dest.Length; i++) dest[i] = new TokenLogprob(-1, float.NegativeInfinity);
    }

    /// <summary>
    /// Largest k for which <see cref="StreamingTopK"/> is used (its insertions cost O(k) each): the most logprobs a
    /// row may ask for (the engine allows 20), and top-k sampling up to this size.
    /// </summary>
    internal const int StreamingTopKMax = 64;

    /// <summary>
    /// Writes the ids of the <c>top.Length</c> largest keys to <paramref name="top"/>, best first, ties by the lower id:
    /// the first k ids are insertion-sorted, then one pass compares 8 keys at a time with the k-th best so far and
    /// inserts only those above it (after the first few thousand keys, almost none are).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void StreamingTopK(ReadOnlySpan<float> key, Span<int> top)
    {
        int k = top.Length, n = key.Length;
        if (k == 0) return;
        if (k > n) throw new ArgumentException("More top entries than keys.", nameof(top));
        Span<float> val = stackalloc float[k];
        for (int i = 0; i < k; i++) Insert(top, val, i, i, key[i]);
        float thr = val[k - 1];
        int j = k;
        ref float r = ref MemoryMarshal.GetReference(key);
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j < n && (j & 7) != 0; j++) if (key[j] > thr) thr = Insert(top, val, k - 1, j, key[j]);
            for (; j <= n - 8; j += 8)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)j);
                if (!Vector256.GreaterThanAny(v, Vector256.Create(thr))) continue;
                for (int l = 0; l < 8; l++) if (key[j + l] > thr) thr = Insert(top, val, k - 1, j + l, key[j + l]);
            }
        }
        for (; j < n; j++) if (key[j] > thr) thr = Insert(top, val, k - 1, j, key[j]);
    }

    // Puts (id, x) into the sorted prefix at or before position `last` (dropping what was there) and returns the new
    // k-th value. Equal keys stay behind earlier ones: ids arrive in increasing order, so the lower id wins ties.
    private static float Insert(Span<int> top, Span<float> val, int last, int id, float x)
    {
        int p = last;
        while (p > 0 && val[p - 1] < x)
        {
            val[p] = val[p - 1];
            top[p] = top[p - 1];
            p--;
        }
        val[p] = x;
        top[p] = id;
        return val[^1];
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

    /// <summary>Index of the largest value, the first one on ties (NaN is never the largest, as in a plain scan).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int ArgMax(ReadOnlySpan<float> x)
    {
        float max = TensorPrimitives.Max(x);
        if (float.IsNaN(max))
        {
            int best = 0;
            for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
            return best;
        }
        // Second pass: the first position holding the maximum, 8 at a time. (-0 and +0 compare equal, as in a scan.)
        ref float r = ref MemoryMarshal.GetReference(x);
        var vmax = Vector256.Create(max);
        int j = 0;
        for (; j <= x.Length - 8; j += 8)
            if (Vector256.EqualsAny(Vector256.LoadUnsafe(ref r, (nuint)j), vmax)) break;
        for (; j < x.Length; j++) if (x[j] == max) return j;
        return 0;
    }

    // Fully optimized from the first call: at tier 0 the vector code runs several times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float LogSumExp(ReadOnlySpan<float> x)
    {
        float max = TensorPrimitives.Max(x);
        if (!float.IsFinite(max)) return max; // NaN in, NaN out; all -inf: log 0
        // exp in float lanes (ExpNonPositive, ~2 ulp), summed in float over blocks of 1,024 terms (each at most 1) and
        // across blocks in double. (Widening every vector to double instead was 12x slower.)
        var vmax = Vector256.Create(max);
        ref float r = ref MemoryMarshal.GetReference(x);
        double sum = 0;
        int i = 0;
        while (i <= x.Length - 8)
        {
            var acc = Vector256<float>.Zero;
            int end = Math.Min(x.Length - 7, i + 1024);
            for (; i < end; i += 8) acc += ExpNonPositive(Vector256.LoadUnsafe(ref r, (nuint)i) - vmax);
            sum += Vector256.Sum(Vector256.WidenLower(acc) + Vector256.WidenUpper(acc));
        }
        for (; i < x.Length; i++) sum += Math.Exp(x[i] - max);
        return max + (float)Math.Log(sum);
    }

    /// <summary>
    /// e^x for x ≤ 0 (Cephes' expf: x = n ln 2 + r, a degree-6 polynomial for e^r, 2^n from the exponent bits). Below
    /// −87.3 (and for −∞) it gives e^−87.3 ≈ 1.2e-38 instead of 0, which no sum of terms up to 1 can notice. Written here
    /// rather than Vector256.Exp, which ran 5x slower when called from optimized code that skipped tiering.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> ExpNonPositive(Vector256<float> x)
    {
        x = Vector256.Max(x, Vector256.Create(-87.33654f));
        var n = Vector256.Floor(x * Vector256.Create(1.44269504088896341f) + Vector256.Create(0.5f));
        var r = x - n * Vector256.Create(0.693359375f) - n * Vector256.Create(-2.12194440e-4f);
        var y = Vector256.Create(1.9875691500E-4f);
        y = y * r + Vector256.Create(1.3981999507E-3f);
        y = y * r + Vector256.Create(8.3334519073E-3f);
        y = y * r + Vector256.Create(4.1665795894E-2f);
        y = y * r + Vector256.Create(1.6666665459E-1f);
        y = y * r + Vector256.Create(5.0000001201E-1f);
        y = y * (r * r) + r + Vector256<float>.One;
        var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        return y * scale;
    }
}
