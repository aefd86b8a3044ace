using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;
using PagedAttention.AI.Sampling;

namespace PagedAttention.AI.Chat;

/// <summary>
/// Maps <see cref="ChatOptions"/> to <see cref="SamplingParams"/> without touching the caller's options. A
/// <see cref="SamplingParams"/> returned by <see cref="ChatOptions.RawRepresentationFactory"/> is the base: its
/// non-default values win, and typed ChatOptions members fill the rest (the Microsoft.Extensions.AI convention).
/// </summary>
internal static class ChatOptionsMapper
{
    /// <summary>The AdditionalProperties keys understood here (documented in docs/chat-options.md).</summary>
    public static IReadOnlyList<string> Keys { get; } =
        ["min_p", "repetition_penalty", "ignore_eos", "cache_salt", "min_tokens", "stop_token_ids", "logprobs", "top_k", "seed", "beam_width", "length_penalty", "early_stopping"];

    public static SamplingParams Map(ChatOptions? options, IChatClient client, int defaultMaxTokens, Func<Sampling.ITokenConstraint>? constraint = null, int n = 1)
    {
        var d = new SamplingParams();
        var b = options?.RawRepresentationFactory?.Invoke(client) as SamplingParams ?? d;
        var extra = options?.AdditionalProperties;

        float temperature = b.Temperature != d.Temperature ? b.Temperature : options?.Temperature ?? d.Temperature;
        float topP = b.TopP != d.TopP ? b.TopP : options?.TopP ?? d.TopP;
        int topK = b.TopK != d.TopK ? b.TopK : options?.TopK ?? Int(extra, "top_k") ?? d.TopK;
        float presence = b.PresencePenalty != d.PresencePenalty ? b.PresencePenalty : options?.PresencePenalty ?? d.PresencePenalty;
        float frequency = b.FrequencyPenalty != d.FrequencyPenalty ? b.FrequencyPenalty : options?.FrequencyPenalty ?? d.FrequencyPenalty;
        long? seed = b.Seed ?? options?.Seed ?? Long(extra, "seed");
        int maxTokens = b.MaxTokens != d.MaxTokens ? b.MaxTokens : options?.MaxOutputTokens ?? defaultMaxTokens;
        var stops = b.StopStrings.Count > 0 ? b.StopStrings : options?.StopSequences?.ToArray() ?? (IReadOnlyList<string>)[];

        var p = new SamplingParams
        {
            Temperature = temperature,
            TopP = topP,
            TopK = topK,
            MinP = b.MinP != d.MinP ? b.MinP : Float(extra, "min_p") ?? d.MinP,
            PresencePenalty = presence,
            FrequencyPenalty = frequency,
            RepetitionPenalty = b.RepetitionPenalty != d.RepetitionPenalty ? b.RepetitionPenalty : Float(extra, "repetition_penalty") ?? d.RepetitionPenalty,
            Seed = seed,
            MaxTokens = maxTokens,
            MinTokens = b.MinTokens != d.MinTokens ? b.MinTokens : Int(extra, "min_tokens") ?? d.MinTokens,
            IgnoreEos = b.IgnoreEos || (Bool(extra, "ignore_eos") ?? false),
            StopTokenIds = b.StopTokenIds.Count > 0 ? b.StopTokenIds : IntList(extra, "stop_token_ids") ?? [],
            StopStrings = stops,
            Logprobs = b.Logprobs != d.Logprobs ? b.Logprobs : Int(extra, "logprobs") ?? d.Logprobs,
            N = n,
            CacheSalt = b.CacheSalt ?? Str(extra, "cache_salt"),
            BeamWidth = b.BeamWidth != d.BeamWidth ? b.BeamWidth : Int(extra, "beam_width") ?? d.BeamWidth,
            LengthPenalty = b.LengthPenalty != d.LengthPenalty ? b.LengthPenalty : Float(extra, "length_penalty") ?? d.LengthPenalty,
            EarlyStopping = b.EarlyStopping != d.EarlyStopping ? b.EarlyStopping : EarlyStopping(extra) ?? d.EarlyStopping,
            Constraint = constraint,
        };
        p.Validate();
        return p;
    }

    private static bool TryGet(AdditionalPropertiesDictionary? extra, string key, out object? value)
    {
        value = null;
        return extra is not null && extra.TryGetValue(key, out value) && value is not null;
    }

    private static InvalidOperationException Bad(string key, object? value, string expected) =>
        new($"ChatOptions.AdditionalProperties[\"{key}\"] must be {expected}, got '{value}'.");

    private static double? Number(AdditionalPropertiesDictionary? extra, string key)
    {
        if (!TryGet(extra, key, out var v)) return null;
        return v switch
        {
            JsonElement { ValueKind: JsonValueKind.Number } e => e.GetDouble(),
            string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) => x,
            IConvertible c when v is not string and not bool => c.ToDouble(CultureInfo.InvariantCulture),
            _ => throw Bad(key, v, "a number"),
        };
    }

    private static float? Float(AdditionalPropertiesDictionary? extra, string key) =>
        Number(extra, key) is double x ? (double.IsFinite(x) && Math.Abs(x) <= float.MaxValue ? (float)x : throw Bad(key, x, "a finite number")) : null;

    private static int? Int(AdditionalPropertiesDictionary? extra, string key) =>
        Number(extra, key) is double x ? (x == Math.Floor(x) && x is >= int.MinValue and <= int.MaxValue ? (int)x : throw Bad(key, x, "an integer")) : null;

    private static long? Long(AdditionalPropertiesDictionary? extra, string key) =>
        Number(extra, key) is double x
            ? (x == Math.Floor(x) && x >= -9223372036854775808.0 && x < 9223372036854775808.0 ? (long)x : throw Bad(key, x, "an integer in the range of a 64-bit integer"))
            : null;

    private static bool? Bool(AdditionalPropertiesDictionary? extra, string key)
    {
        if (!TryGet(extra, key, out var v)) return null;
        return v switch
        {
            bool b => b,
            JsonElement { ValueKind: JsonValueKind.True } => true,
            JsonElement { ValueKind: JsonValueKind.False } => false,
            string s when bool.TryParse(s, out var b) => b,
            _ => throw Bad(key, v, "true or false"),
        };
    }

    // transformers' early_stopping: true, false or "never".
    private static BeamEarlyStopping? EarlyStopping(AdditionalPropertiesDictionary? extra)
    {
        const string key = "early_stopping";
        if (!TryGet(extra, key, out var v)) return null;
        if (v is string s && s.Equals("never", StringComparison.OrdinalIgnoreCase)) return BeamEarlyStopping.Never;
        if (v is JsonElement { ValueKind: JsonValueKind.String } e && string.Equals(e.GetString(), "never", StringComparison.OrdinalIgnoreCase)) return BeamEarlyStopping.Never;
        bool? b;
        try { b = Bool(extra, key); }
        catch (InvalidOperationException) { throw Bad(key, v, "true, false or \"never\""); }
        return b is true ? BeamEarlyStopping.WhenFull : BeamEarlyStopping.Heuristic;
    }

    private static string? Str(AdditionalPropertiesDictionary? extra, string key)
    {
        if (!TryGet(extra, key, out var v)) return null;
        return v switch
        {
            string s => s,
            JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
            _ => throw Bad(key, v, "a string"),
        };
    }

    private static IReadOnlyList<int>? IntList(AdditionalPropertiesDictionary? extra, string key)
    {
        if (!TryGet(extra, key, out var v)) return null;
        return v switch
        {
            IEnumerable<int> ints => ints.ToArray(),
            JsonElement { ValueKind: JsonValueKind.Array } e => e.EnumerateArray().Select(x => x.TryGetInt32(out int i) ? i : throw Bad(key, v, "a list of integers")).ToArray(),
            _ => throw Bad(key, v, "a list of integers"),
        };
    }
}
