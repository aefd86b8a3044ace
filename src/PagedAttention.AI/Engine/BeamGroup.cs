using System.Numerics.Tensors;
using PagedAttention.AI.Requests;
using PagedAttention.AI.Sampling;
using PagedAttention.AI.Scheduling;

namespace PagedAttention.AI.Engine;

/// <summary>
/// A beam-search request in the step loop: k sequences ("slots") carry the k running beams, which the scheduler runs
/// like any sequences (batched with other requests, preempted, re-admitted). Only slot 0 starts (the prompt is computed
/// once, prefix cache included); the others are spares. Each step every running beam computes one token's logits; when
/// all k have, <see cref="BeamSearcher"/> picks the next k beams and the slots are rearranged: a beam that continues
/// keeps its slot (its token appended), a beam with no continuation is retired (its blocks released), and each further
/// continuation of a beam is forked into a free slot — block table by reference (<see cref="Scheduler{TSeq}.Fork"/>),
/// the partially filled last block copied on write when either writes into it. When the search ends, every slot is
/// released and the best hypotheses are written to the request's stream. Step-loop thread only.
/// </summary>
internal sealed class BeamGroup
{
    private readonly RequestState _request;
    private readonly EngineSequence[] _slots;
    private readonly BeamSearcher _search;
    private readonly float[] _logits;   // by slot, as the steps deliver them
    private readonly float[] _byBeam;   // by running beam, as the searcher reads them
    private readonly bool[] _ready;     // per slot: logits of its current last token are in _logits
    private readonly int[] _slotOf;     // running beam j -> slot
    private readonly int[] _newSlotOf;
    private readonly bool[] _claimed;
    private readonly int _vocab, _returned;
    private readonly Func<IStreamingDetokenizer>? _detokenizer;
    private readonly BeamTokens _tokens;

    public BeamGroup(RequestState request, EngineSequence[] slots, SamplingParams p, ReadOnlySpan<int> endTokenIds, int maxNewTokens, int vocab, Func<IStreamingDetokenizer>? detokenizer)
    {
        _request = request;
        _slots = slots;
        int k = slots.Length;
        _vocab = vocab;
        _returned = p.N;
        _detokenizer = detokenizer;
        _search = new BeamSearcher(k, p.LengthPenalty, p.EarlyStopping, maxNewTokens, p.MinTokens, endTokenIds, vocab);
        _logits = new float[k * vocab];
        _byBeam = new float[k * vocab];
        _ready = new bool[k];
        _slotOf = new int[k];
        _newSlotOf = new int[k];
        _claimed = new bool[k];
        // Before the first step all k beams are the prompt (beam 0; the others are masked by their -1e9 score).
        _tokens = j => _slots[_slotOf[j]].OutputTokens;
        for (int i = 1; i < k; i++) slots[i].Status = SequenceStatus.Finished;
    }

    /// <summary>The final hypotheses, best first (all k), once the search has ended.</summary>
    public IReadOnlyList<BeamHypothesis>? Results { get; private set; }

    /// <summary>Beams.</summary>
    public int BeamWidth => _slots.Length;

    /// <summary>
    /// Takes the logits of <paramref name="seq"/>'s last token; once every running beam has its logits, runs one beam
    /// step. Throws (failing only this request) on non-finite logits.
    /// </summary>
    public void Accept(EngineSequence seq, ReadOnlySpan<float> logits, Scheduler<EngineSequence> scheduler, EngineCounters counters, OutputProcessor output)
    {
        if (_request.Done) return;
        if (seq.NumOutputTokens == 0 && !float.IsFinite(TensorPrimitives.MaxMagnitude(logits)))
            throw new InvalidOperationException($"The model produced non-finite logits (NaN or Inf) for the first token of request {seq.RequestId}: its weights or activations are broken; the request is failed.");
        int k = _slots.Length;
        logits.CopyTo(_logits.AsSpan(seq.Index * _vocab, _vocab));
        _ready[seq.Index] = true;
        bool first = _search.Generated == 0;
        for (int j = 0; j < (first ? 1 : k); j++) if (!_ready[_slotOf[j]]) return;
        // Rows by running beam (before the first step every beam is the prompt, slot 0; beams 1..k-1 are masked by their scores).
        for (int j = 0; j < k; j++) _logits.AsSpan(_slotOf[j] * _vocab, _vocab).CopyTo(_byBeam.AsSpan(j * _vocab, _vocab));
        _search.Step(_byBeam, _tokens);
        Array.Clear(_ready);
        for (int j = 0; j < k; j++) counters.CountGenerated();
        if (_search.IsDone) Complete(scheduler, output);
        else Rearrange(scheduler);
    }

    private void Rearrange(Scheduler<EngineSequence> scheduler)
    {
        int k = _slots.Length;
        var parent = _search.Parent;
        var token = _search.Token;
        Array.Clear(_claimed);
        // A beam's first continuation stays in its slot; the others go to slots nobody continues.
        Span<int> extra = stackalloc int[k];
        int numExtra = 0;
        for (int j = 0; j < k; j++)
        {
            int ps = _slotOf[parent[j]];
            if (!_claimed[ps]) { _claimed[ps] = true; _newSlotOf[j] = ps; }
            else { _newSlotOf[j] = -1; extra[numExtra++] = j; }
        }
        // Slots nobody continues are retired first (no continuation descends from them), then reused by forks.
        int free = 0;
        for (int s = 0; s < k; s++)
        {
            if (_claimed[s]) continue;
            if (!_slots[s].IsFinished) scheduler.Finish(_slots[s], null);
            int j = extra[free++];
            scheduler.Fork(_slots[_slotOf[parent[j]]], _slots[s]);
            _newSlotOf[j] = s;
        }
        for (int j = 0; j < k; j++) _slots[_newSlotOf[j]].AppendToken(token[j]);
        // The searcher keeps its running beams in score order; the slots stay put and are renamed.
        Array.Copy(_newSlotOf, _slotOf, k);
    }

    private void Complete(Scheduler<EngineSequence> scheduler, OutputProcessor output)
    {
        int k = _slots.Length;
        foreach (var s in _slots) scheduler.Finish(s, FinishReason.Length);
        var results = new BeamHypothesis[k];
        int cached = _slots[0].NumCachedTokens;
        for (int i = 0; i < k; i++)
        {
            var (score, sum, _) = _search.Hypothesis(i);
            var ids = _search.HypothesisTokens(i).ToArray();
            var reason = ids.Length > 0 && _search.IsEnd(ids[^1]) ? FinishReason.Stop : FinishReason.Length;
            var detok = _detokenizer?.Invoke();
            string?[] texts = new string?[ids.Length];
            for (int t = 0; t < ids.Length; t++)
            {
                texts[t] = detok is null ? null : reason == FinishReason.Stop && t == ids.Length - 1 ? "" : detok.Append(ids[t]);
                if (detok is not null && t == ids.Length - 1) texts[t] += detok.Flush();
            }
            results[i] = new BeamHypothesis(ids, detok is null ? null : string.Concat(texts), score, sum, reason);
            if (i < _returned) output.WriteDirect(_request, ids, texts, i, reason, cached, score);
        }
        Results = results;
        _request.Done = true;
        output.Complete(_request, null);
    }
}
