using System.Text.Json;

namespace PagedAttention.Server.Protocol;

/// <summary>
/// The fields /v1/chat/completions and /v1/completions share: the model, streaming, and the sampling knobs of OpenAI
/// and of vLLM (top_k, min_p, repetition_penalty, min_tokens, ignore_eos, stop_token_ids), range-checked as OpenAI
/// documents them (vLLM's ranges where OpenAI has none).
/// </summary>
internal sealed class CommonRequest
{
    /// <summary>Most stop sequences (OpenAI's limit).</summary>
    public const int MaxStops = 4;

    /// <summary>Longest stop sequence, in characters.</summary>
    public const int MaxStopLength = 1024;

    public required string Model { get; init; }
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? TopK { get; init; }
    public float? MinP { get; init; }
    public float? PresencePenalty { get; init; }
    public float? FrequencyPenalty { get; init; }
    public float? RepetitionPenalty { get; init; }
    public long? Seed { get; init; }
    public int N { get; init; } = 1;
    public int? MaxTokens { get; init; }
    public int? MinTokens { get; init; }
    public bool IgnoreEos { get; init; }
    public List<string>? Stop { get; init; }
    public int[]? StopTokenIds { get; init; }
    public string? CacheSalt { get; init; }

    public static CommonRequest Parse(JsonElement body, int maxN, int vocab, string maxTokensField)
    {
        string model = Fields.String(body, "model") ?? throw OpenAIException.Invalid("model", "'model' is required.");
        bool stream = Fields.Bool(body, "stream") ?? false;
        bool includeUsage = false;
        if (Fields.Object(body, "stream_options") is { } so)
        {
            if (!stream) throw OpenAIException.Invalid("stream_options", "'stream_options' is only allowed with \"stream\": true.");
            includeUsage = Fields.Bool(so, "include_usage") ?? false;
        }
        long? maxTokens = Fields.Integer(body, maxTokensField, 1, int.MaxValue);
        if (maxTokensField != "max_tokens") maxTokens ??= Fields.Integer(body, "max_tokens", 1, int.MaxValue);
        var n = (int)(Fields.Integer(body, "n", 1, maxN) ?? 1);
        long? topK = Fields.Integer(body, "top_k", -1, int.MaxValue);
        var minTokens = Fields.Integer(body, "min_tokens", 0, int.MaxValue);
        if (minTokens is { } mt && maxTokens is { } mx && mt > mx) throw OpenAIException.Invalid("min_tokens", $"'min_tokens' ({mt}) must not exceed '{maxTokensField}' ({mx}).");
        int[]? stopIds = Fields.Array(body, "stop_token_ids") is { } ids ? Fields.TokenIds(ids, "stop_token_ids", vocab) : null;
        string? salt = Fields.String(body, "cache_salt");
        if (salt is { Length: 0 }) throw OpenAIException.Invalid("cache_salt", "'cache_salt' must not be empty.");
        return new CommonRequest
        {
            Model = model,
            Stream = stream,
            IncludeUsage = includeUsage,
            Temperature = (float?)Fields.Number(body, "temperature", 0, 2),
            TopP = (float?)Fields.Number(body, "top_p", 0, 1, minExclusive: true),
            TopK = topK is null or <= 0 ? null : (int)topK,
            MinP = (float?)Fields.Number(body, "min_p", 0, 1),
            PresencePenalty = (float?)Fields.Number(body, "presence_penalty", -2, 2),
            FrequencyPenalty = (float?)Fields.Number(body, "frequency_penalty", -2, 2),
            RepetitionPenalty = (float?)Fields.Number(body, "repetition_penalty", 0, 100, minExclusive: true),
            Seed = Fields.Integer(body, "seed", long.MinValue, long.MaxValue),
            N = n,
            MaxTokens = (int?)maxTokens,
            MinTokens = (int?)minTokens,
            IgnoreEos = Fields.Bool(body, "ignore_eos") ?? false,
            Stop = Fields.Stop(body, MaxStops, MaxStopLength),
            StopTokenIds = stopIds,
            CacheSalt = salt,
        };
    }
}
