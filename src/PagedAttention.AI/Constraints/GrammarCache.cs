namespace PagedAttention.AI.Constraints;

/// <summary>
/// Compiled grammars keyed by (vocabulary, constraint kind, text, options): per-request tool schemas repeat, and a
/// compiled grammar's lexer DFA gets faster as it warms. Thread-safe; bounded, least recently used evicted.
/// Compile errors are not cached (they are cheap to reproduce and carry the caller's pointer).
/// </summary>
internal sealed class GrammarCache(int capacity = 256)
{
    private readonly Dictionary<string, LinkedListNode<(string Key, CompiledGrammar Value)>> _map = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Key, CompiledGrammar Value)> _lru = new();
    private readonly object _lock = new();

    public int Count { get { lock (_lock) return _map.Count; } }

    /// <summary>The cached grammar for the key, or <paramref name="build"/>'s (compiled outside the lock).</summary>
    public CompiledGrammar GetOrCompile(TokenVocabulary vocabulary, string kind, string text, Func<Grammar> build, JsonGrammarOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentNullException.ThrowIfNull(build);
        string key = $"{vocabulary.Key}\n{kind}\n{options ?? JsonGrammarOptions.Default}\n{text}";
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var hit))
            {
                _lru.Remove(hit);
                _lru.AddFirst(hit);
                return hit.Value.Value;
            }
        }
        var compiled = CompiledGrammar.Create(build(), vocabulary);
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var raced)) return raced.Value.Value;
            var node = _lru.AddFirst((key, compiled));
            _map[key] = node;
            while (_map.Count > Math.Max(1, capacity))
            {
                var last = _lru.Last!;
                _lru.RemoveLast();
                _map.Remove(last.Value.Key);
            }
            return compiled;
        }
    }

    /// <summary>A JSON-schema grammar for the vocabulary, cached.</summary>
    public CompiledGrammar JsonSchema(TokenVocabulary vocabulary, string schema, JsonGrammarOptions? options = null) =>
        GetOrCompile(vocabulary, "json-schema", schema, () => Constraint.JsonSchema(schema, options), options);
}
