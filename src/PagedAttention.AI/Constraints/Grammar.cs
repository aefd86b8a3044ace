namespace PagedAttention.AI.Constraints;

/// <summary>
/// A frozen context-free grammar over lexemes in flat arrays, the form the Earley parser walks. Positions ("dotted
/// rules") index <see cref="Rhs"/>: a rule's symbols followed by <see cref="EndOfRule"/>, so an item is just
/// (position, origin row). A root rule <c>root → start</c> is added; rules that can derive nothing (they use a
/// nonterminal without a finite derivation) are dropped, so every lexeme the parser offers leads somewhere.
/// Immutable and shared by every matcher.
/// </summary>
internal sealed class Grammar
{
    public const int EndOfRule = int.MinValue;

    private Grammar(int[] rhs, int[] posRule, int[] ruleLhs, int[] ruleStart, int[] ntRules, int[] ntRuleStart,
        bool[] nullable, int rootRule, int[] lexemeExprs, string[] lexemeNames, string[] ntNames, ExprSet exprs)
    {
        Rhs = rhs; PosRule = posRule; RuleLhs = ruleLhs; RuleStart = ruleStart; NtRules = ntRules; NtRuleStart = ntRuleStart;
        Nullable = nullable; RootRule = rootRule; LexemeExprs = lexemeExprs; LexemeNames = lexemeNames; NonterminalNames = ntNames;
        Exprs = exprs;
        RootEnd = ruleStart[rootRule] + 1;
    }

    public int[] Rhs { get; }
    public int[] PosRule { get; }
    public int[] RuleLhs { get; }
    public int[] RuleStart { get; }
    /// <summary>Rule ids grouped by left-hand side: those of nonterminal n are NtRules[NtRuleStart[n]..NtRuleStart[n+1]].</summary>
    public int[] NtRules { get; }
    public int[] NtRuleStart { get; }
    public bool[] Nullable { get; }
    public int RootRule { get; }
    /// <summary>The position after the root rule's only symbol: an item there with origin 0 means "complete".</summary>
    public int RootEnd { get; }
    public int[] LexemeExprs { get; }
    public string[] LexemeNames { get; }
    public string[] NonterminalNames { get; }
    public ExprSet Exprs { get; }
    public int RuleCount => RuleLhs.Length;

    internal static Grammar Create(List<string> ntNames, List<(int Lhs, int[] Rhs)> rules, List<int> lexemeExprs,
        List<string> lexemeNames, int start, ExprSet exprs)
    {
        int root = ntNames.Count;
        var names = ntNames.Append("<root>").ToArray();
        var all = rules.Append((Lhs: root, Rhs: new[] { start })).ToList();
        int nts = names.Length;

        // Productive nonterminals (derive some string) by fixpoint; rules using an unproductive one are dropped.
        var productive = new bool[nts];
        for (bool changed = true; changed;)
        {
            changed = false;
            foreach (var (lhs, rhs) in all)
                if (!productive[lhs] && rhs.All(s => s < 0 || productive[s])) { productive[lhs] = changed = true; }
        }
        if (!productive[root]) throw new ArgumentException($"the grammar's start symbol '{names[start]}' derives no string");
        var kept = all.Where(r => productive[r.Lhs] && r.Rhs.All(s => s < 0 || productive[s])).ToList();
        int rootRuleIndex = kept.FindIndex(r => r.Lhs == root);

        var nullable = new bool[nts];
        for (bool changed = true; changed;)
        {
            changed = false;
            foreach (var (lhs, rhs) in kept)
                if (!nullable[lhs] && rhs.All(s => s >= 0 && nullable[s])) { nullable[lhs] = changed = true; }
        }

        var flat = new List<int>();
        var posRule = new List<int>();
        var ruleLhs = new int[kept.Count];
        var ruleStart = new int[kept.Count];
        for (int r = 0; r < kept.Count; r++)
        {
            ruleLhs[r] = kept[r].Lhs;
            ruleStart[r] = flat.Count;
            foreach (int s in kept[r].Rhs) { flat.Add(s); posRule.Add(r); }
            flat.Add(EndOfRule);
            posRule.Add(r);
        }
        var ntRuleStart = new int[nts + 1];
        foreach (int l in ruleLhs) ntRuleStart[l + 1]++;
        for (int n = 0; n < nts; n++) ntRuleStart[n + 1] += ntRuleStart[n];
        var fill = (int[])ntRuleStart.Clone();
        var ntRules = new int[kept.Count];
        for (int r = 0; r < kept.Count; r++) ntRules[fill[ruleLhs[r]]++] = r;
        return new Grammar(flat.ToArray(), posRule.ToArray(), ruleLhs, ruleStart, ntRules, ntRuleStart, nullable,
            rootRuleIndex, lexemeExprs.ToArray(), lexemeNames.ToArray(), names, exprs);
    }
}
