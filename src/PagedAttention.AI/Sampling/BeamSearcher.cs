namespace PagedAttention.AI.Sampling;

/// <summary>The output tokens of running beam <paramref name="beam"/> (for copying into a finished hypothesis).</summary>
internal delegate ReadOnlySpan<int> BeamTokens(int beam);

/// <summary>
/// Deterministic beam search for one request, step by step, exactly as transformers' <c>_beam_search</c> with
/// <c>do_sample=False</c> does it for one batch item (its <c>_get_top_k_continuations</c>,
/// <c>_get_running_beams_for_next_iteration</c>, <c>_update_finished_beams</c>, <c>_check_early_stop_heuristic</c> and
/// <c>_beam_search_has_unfinished_sequences</c>), in float32 with the same −1e9 masks, so that sequences and scores
/// match its goldens: each step takes the k running beams' log-softmaxed rows (+ their running scores), keeps the top
/// <c>max(2, 1 + end tokens) · k</c> continuations, continues the best k that did not end, and merges the ones among
/// the top k that ended (an end token or the length limit) into the k finished hypotheses, scored
/// sum / length^LengthPenalty. Knows tokens and scores, not blocks: the engine maps the running beams onto sequences.
/// </summary>
internal sealed class BeamSearcher
{
    private const float Masked = -1.0e9f;
    private readonly int _k, _keep, _vocab, _maxNew, _minNew;
    private readonly float _lengthPenalty;
    private readonly BeamEarlyStopping _earlyStopping;
    private readonly int[] _end;
    private float[] _run, _nextRun;
    private readonly float[] _candValue, _candScore, _candRunning;
    private readonly int[] _candIndex;
    private readonly bool[] _candHit;
    private readonly int[] _order;
    private readonly float[] _mergedScore;
    private Finished _fin, _fin2;
    private bool _unsatisfied = true;

    private sealed class Finished(int k, int maxNew)
    {
        public readonly float[] Score = Enumerable.Repeat(Masked, k).ToArray();
        public readonly float[] Sum = new float[k];
        public readonly bool[] Done = new bool[k];
        public readonly int[][] Tokens = Enumerable.Range(0, k).Select(_ => new int[maxNew]).ToArray();
        public readonly int[] Length = new int[k];
    }

    /// <param name="beamWidth">k.</param>
    /// <param name="lengthPenalty">Exponent of the length in a finished hypothesis' score.</param>
    /// <param name="earlyStopping">transformers' early_stopping.</param>
    /// <param name="maxNewTokens">Most output tokens (max_length − prompt length).</param>
    /// <param name="minNewTokens">End tokens are masked (−inf) until this many tokens are out.</param>
    /// <param name="endTokenIds">Tokens that end a hypothesis (transformers' eos_token_id list).</param>
    /// <param name="vocab">Row width.</param>
    public BeamSearcher(int beamWidth, float lengthPenalty, BeamEarlyStopping earlyStopping, int maxNewTokens, int minNewTokens, ReadOnlySpan<int> endTokenIds, int vocab)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(beamWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNewTokens, 1);
        _k = beamWidth;
        _lengthPenalty = lengthPenalty;
        _earlyStopping = earlyStopping;
        _maxNew = maxNewTokens;
        _minNew = minNewTokens;
        _end = endTokenIds.ToArray();
        _vocab = vocab;
        _keep = Math.Max(2, 1 + _end.Length) * _k;
        _run = new float[_k];
        for (int j = 1; j < _k; j++) _run[j] = Masked; // only the first beam's continuations are distinct at step 0
        _nextRun = new float[_k];
        _candValue = new float[_keep];
        _candScore = new float[_keep];
        _candRunning = new float[_keep];
        _candIndex = new int[_keep];
        _candHit = new bool[_keep];
        _order = new int[_keep + _k];
        _mergedScore = new float[_keep + _k];
        _fin = new Finished(_k, maxNewTokens);
        _fin2 = new Finished(_k, maxNewTokens);
        Parent = new int[_k];
        Token = new int[_k];
    }

    /// <summary>Beams.</summary>
    public int BeamWidth => _k;

    /// <summary>Tokens generated so far by every running beam.</summary>
    public int Generated { get; private set; }

    /// <summary>True once the search has ended; the hypotheses are final.</summary>
    public bool IsDone { get; private set; }

    /// <summary>After a step: new running beam j continues old running beam <c>Parent[j]</c> with <c>Token[j]</c>.</summary>
    public int[] Parent { get; }

    /// <inheritdoc cref="Parent"/>
    public int[] Token { get; }

    /// <summary>Running beam j's accumulated log-probability (−1e9 for an unused beam).</summary>
    public float RunningScore(int j) => _run[j];

    /// <summary>Finished hypothesis i's tokens (best first once done).</summary>
    public ReadOnlySpan<int> HypothesisTokens(int i) => _fin.Tokens[i].AsSpan(0, _fin.Length[i]);

    /// <summary>Finished hypothesis i's length-penalized score, summed log-probability, and whether the slot holds one.</summary>
    public (float Score, float SumLogprob, bool Finished) Hypothesis(int i) => (_fin.Score[i], _fin.Sum[i], _fin.Done[i]);

    /// <summary>Whether <paramref name="token"/> ends a hypothesis.</summary>
    public bool IsEnd(int token) => Array.IndexOf(_end, token) >= 0;

    /// <summary>
    /// One step: <paramref name="logits"/> holds k rows of raw logits (row j: running beam j; rows of unused beams are
    /// read but masked by their −1e9 score) and is overwritten with log-probabilities. <paramref name="tokens"/> gives
    /// a running beam's output tokens so far. Sets <see cref="Parent"/>/<see cref="Token"/> and <see cref="IsDone"/>.
    /// </summary>
    public void Step(Span<float> logits, BeamTokens tokens)
    {
        if (IsDone) throw new InvalidOperationException("The beam search has ended.");
        int k = _k, v = _vocab, keep = _keep;
        // b. log-softmax, the min-new-tokens processor, + running scores; c. top `keep` over k·V (ties: lower index first).
        int count = 0;
        for (int j = 0; j < k; j++)
        {
            var row = logits.Slice(j * v, v);
            LogSoftmax(row);
            if (Generated < _minNew) foreach (int t in _end) if ((uint)t < (uint)v) row[t] = float.NegativeInfinity;
            float s = _run[j];
            for (int t = 0; t < v; t++)
            {
                float x = row[t] + s;
                if (count == keep && !(x > _candValue[keep - 1])) continue;
                int p = count < keep ? count++ : keep - 1;
                while (p > 0 && _candValue[p - 1] < x)
                {
                    _candValue[p] = _candValue[p - 1];
                    _candIndex[p] = _candIndex[p - 1];
                    p--;
                }
                _candValue[p] = x;
                _candIndex[p] = j * v + t;
            }
        }
        // d. which continuations end: an end token, or the length limit.
        bool allHit = true;
        for (int c = 0; c < keep; c++)
        {
            _candHit[c] = IsEnd(_candIndex[c] % v) || Generated + 1 >= _maxNew;
            allHit &= _candHit[c];
        }
        // e. the best k that did not end continue.
        for (int c = 0; c < keep; c++) _candRunning[c] = _candValue[c] + (_candHit[c] ? Masked : 0f);
        TopK(_candRunning, keep, k);
        for (int j = 0; j < k; j++)
        {
            int c = _order[j];
            Parent[j] = _candIndex[c] / v;
            Token[j] = _candIndex[c] % v;
            _nextRun[j] = _candRunning[c];
        }
        // f. the top k that ended join the finished hypotheses if they beat them.
        bool full = true;
        for (int i = 0; i < k; i++) full &= _fin.Done[i];
        bool closed = full && _earlyStopping == BeamEarlyStopping.WhenFull;
        float lengthScale = (float)Math.Pow(Generated + 1, _lengthPenalty);
        for (int c = 0; c < keep; c++)
        {
            bool did = _candHit[c] && c < k;
            float s = _candValue[c] / lengthScale;
            s += closed ? Masked : 0f;
            s += !_unsatisfied ? Masked : 0f;
            s += !did ? Masked : 0f;
            _candScore[c] = s;
        }
        for (int i = 0; i < k; i++) _mergedScore[i] = _fin.Score[i];
        for (int c = 0; c < keep; c++) _mergedScore[k + c] = _candScore[c];
        TopK(_mergedScore, k + keep, k);
        for (int i = 0; i < k; i++)
        {
            int m = _order[i];
            if (m < k)
            {
                _fin2.Score[i] = _fin.Score[m];
                _fin2.Sum[i] = _fin.Sum[m];
                _fin2.Done[i] = _fin.Done[m];
                _fin2.Length[i] = _fin.Length[m];
                _fin.Tokens[m].AsSpan(0, _fin.Length[m]).CopyTo(_fin2.Tokens[i]);
            }
            else
            {
                int c = m - k, parent = _candIndex[c] / v;
                var prefix = tokens(parent);
                _fin2.Score[i] = _candScore[c];
                _fin2.Sum[i] = _candValue[c];
                _fin2.Done[i] = _candHit[c] && c < k;
                prefix.CopyTo(_fin2.Tokens[i]);
                _fin2.Tokens[i][prefix.Length] = _candIndex[c] % v;
                _fin2.Length[i] = prefix.Length + 1;
            }
        }
        (_fin, _fin2) = (_fin2, _fin);
        (_run, _nextRun) = (_nextRun, _run);
        Generated++;

        // g. can a running beam still beat the worst finished one?
        int bestLength = _earlyStopping == BeamEarlyStopping.Never && _lengthPenalty > 0 ? _maxNew : Generated;
        float best = _run[0] / (float)Math.Pow(bestLength, _lengthPenalty);
        float worst = float.PositiveInfinity;
        for (int i = 0; i < k; i++) worst = Math.Min(worst, _fin.Score[i]);
        bool improvable = false;
        for (int i = 0; i < k; i++) improvable |= best > (_fin.Done[i] ? worst : Masked);
        _unsatisfied &= improvable;
        full = true;
        for (int i = 0; i < k; i++) full &= _fin.Done[i];
        IsDone = !_unsatisfied || (full && _earlyStopping == BeamEarlyStopping.WhenFull) || allHit;
    }

    /// <summary>Indices of the <paramref name="k"/> largest of <paramref name="values"/>[0..n) into _order, descending; ties: lower index first.</summary>
    private void TopK(float[] values, int n, int k)
    {
        for (int i = 0; i < n; i++) _order[i] = i;
        // n is at most (3 + 1) · 64: insertion sort, stable.
        for (int i = 1; i < n; i++)
        {
            int x = _order[i], p = i;
            while (p > 0 && values[_order[p - 1]] < values[x])
            {
                _order[p] = _order[p - 1];
                p--;
            }
            _order[p] = x;
        }
    }

    /// <summary>In place: x − max − log Σ exp(x − max), in float32 as torch's log_softmax.</summary>
    internal static void LogSoftmax(Span<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (float x in row) if (x > max) max = x;
        double sum = 0;
        foreach (float x in row) sum += MathF.Exp(x - max);
        float lse = (float)Math.Log(sum);
        for (int i = 0; i < row.Length; i++) row[i] = row[i] - max - lse;
    }
}
