using System.Text;
using PagedAttention.AI.Constraints;
using PagedAttention.AI.Sampling;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.AI.Chat.StructuredOutput;

/// <summary>
/// Turns a <see cref="ConstraintPlan"/> into a per-sequence constraint factory for one model: the token vocabulary
/// (built once, on first use: the token trie of the whole vocabulary), compiled grammars cached by schema, literal
/// text encoded with the model's tokenizer. Compilation runs on the caller's thread (the chat request's), never on
/// the step loop. Thread-safe.
/// </summary>
internal sealed class StructuredOutputCompiler(Tokenizer tokenizer, IReadOnlyList<int> eosTokenIds, int logitsWidth)
{
    private readonly Lazy<TokenVocabulary> _vocabulary = new(() => TokenVocabulary.FromTokenizer(tokenizer, eosTokenIds));
    private readonly Lazy<string[]> _texts = new(() =>
        [.. Enumerable.Range(0, tokenizer.VocabSize).Select(id => tokenizer.IsAddedToken(id) ? tokenizer.IdToToken(id) ?? "" : Encoding.UTF8.GetString(tokenizer.TokenBytes(id) ?? []))]);
    private readonly GrammarCache _cache = new();

    /// <summary>A token's text (special tokens by name), for triggers; built once.</summary>
    public string TokenText(int id) => (uint)id < (uint)_texts.Value.Length ? _texts.Value[id] : "";

    /// <summary>Words of a mask over the model's logits.</summary>
    public int MaskWords { get; } = Sampler.MaskWords(logitsWidth);

    /// <summary>
    /// A factory making one fresh constraint per sequence. Throws <see cref="ArgumentException"/>
    /// (<see cref="GrammarCompileException"/>: the keyword and its JSON pointer) when the schema is not supported.
    /// </summary>
    public Func<ITokenConstraint> Compile(ConstraintPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var vocab = _vocabulary.Value;
        if (tokenizer.VocabSize > logitsWidth)
            throw new NotSupportedException($"Constrained decoding needs the model's logits ({logitsWidth}) to cover the tokenizer's vocabulary ({tokenizer.VocabSize}).");
        var grammar = plan switch
        {
            { Regex: { } pattern } => _cache.GetOrCompile(vocab, "regex", pattern, () => Constraint.Regex(pattern)),
            { Choices: { } choices } => _cache.GetOrCompile(vocab, "choice", string.Join("\u0000", choices), () => Constraint.Choice(choices)),
            { Schema: null } => _cache.GetOrCompile(vocab, "any-json-object", "", () => Constraint.AnyJson(objectOnly: true)),
            _ => _cache.JsonSchema(vocab, plan.Schema.ToJsonString()),
        };
        int[] prefix = Encode(plan.Prefix), suffix = Encode(plan.Suffix);
        string description = plan.Description;
        Func<IPartConstraint> body = () =>
        {
            var json = new GrammarConstraint(grammar.CreateMatcher(), description);
            if (prefix.Length == 0 && suffix.Length == 0) return json;
            return new SequenceConstraint([new ForcedTokens(prefix, plan.Prefix), json, new ForcedTokens(suffix, plan.Suffix)], MaskWords);
        };
        if (plan.Trigger is not { } trigger) return body;
        _ = _texts.Value;
        return () => new TriggeredConstraint(trigger, body, TokenText, rearm: true);
    }

    private int[] Encode(string text) => text.Length == 0 ? [] : tokenizer.Encode(text, addSpecialTokens: false);
}
