using Microsoft.Extensions.Options;

namespace PagedAttention.Server.Hosting;

/// <summary>Runs <see cref="OpenAIServerOptions.Validate"/> at start: a bad option fails the host's start with OptionsValidationException naming it.</summary>
internal sealed class ServerOptionsValidator : IValidateOptions<OpenAIServerOptions>
{
    public ValidateOptionsResult Validate(string? name, OpenAIServerOptions options)
    {
        try { options.Validate(); return ValidateOptionsResult.Success; }
        catch (ArgumentException e) { return ValidateOptionsResult.Fail(e.Message); }
    }
}
