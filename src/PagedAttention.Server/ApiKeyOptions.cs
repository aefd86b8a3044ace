namespace PagedAttention.Server;

/// <summary>One API key of <see cref="OpenAIServerOptions.ApiKeys"/>.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>The key clients send as <c>Authorization: Bearer KEY</c> (at least 8 characters).</summary>
    public string Key { get; set; } = "";

    /// <summary>The tenant the key belongs to; keys of one tenant share its prefix cache and its rate limit.</summary>
    public string Tenant { get; set; } = "";

    /// <summary>This tenant's requests per minute; null: <see cref="OpenAIServerOptions.RequestsPerMinute"/>.</summary>
    public int? RequestsPerMinute { get; set; }
}
