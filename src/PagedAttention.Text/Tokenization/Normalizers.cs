using System.Text;
using System.Text.RegularExpressions;

namespace PagedAttention.Text.Tokenization;

/// <summary>A tokenizer.json normalizer. Offsets are not tracked (the API does not expose them), so a normalizer is string to string.</summary>
internal abstract class Normalizer
{
    public abstract string Normalize(string s);
}

internal sealed class UnicodeNormalizer(NormalizationForm form) : Normalizer
{
    public NormalizationForm Form => form;

    public override string Normalize(string s) => UnicodeNormalization.Normalize(s, form);
}

/// <summary>Prepend: only non-empty strings get the prefix (Rust checks <c>!normalized.is_empty()</c>).</summary>
internal sealed class PrependNormalizer(string prepend) : Normalizer
{
    public string Prepend => prepend;

    public override string Normalize(string s) => s.Length == 0 ? s : prepend + s;
}

/// <summary>Replace with a literal string or a regex pattern; shared with the Replace decoder.</summary>
internal sealed class ReplaceNormalizer(string? literal, Regex? regex, string content) : Normalizer
{
    /// <summary>The literal pattern, or null for a regex.</summary>
    public string? Literal => literal;
    public string Content => content;

    public override string Normalize(string s)
    {
        if (literal is not null) return literal.Length == 0 ? s : s.Replace(literal, content, StringComparison.Ordinal);
        return regex!.Replace(s, content.Replace("$", "$$", StringComparison.Ordinal));
    }
}

/// <summary>Lowercase. Uses invariant simple case mapping; Rust's full mapping differs for a handful of chars (e.g. U+0130).</summary>
internal sealed class LowercaseNormalizer : Normalizer
{
    public override string Normalize(string s) => s.ToLowerInvariant();
}

/// <summary>Strip: trims Unicode White_Space on either side, as Rust's <c>trim_start</c>/<c>trim_end</c>.</summary>
internal sealed class StripNormalizer(bool left, bool right) : Normalizer
{
    public override string Normalize(string s)
    {
        ReadOnlySpan<char> span = s;
        if (left) span = span.TrimStart();
        if (right) span = span.TrimEnd();
        return span.Length == s.Length ? s : span.ToString();
    }
}

internal sealed class SequenceNormalizer(Normalizer[] items) : Normalizer
{
    public Normalizer[] Items => items;

    public override string Normalize(string s)
    {
        foreach (var n in items) s = n.Normalize(s);
        return s;
    }
}
