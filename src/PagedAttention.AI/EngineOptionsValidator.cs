using Microsoft.Extensions.Options;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;

namespace PagedAttention.AI;

/// <summary>
/// Validates <see cref="EngineOptions"/> for the options system (run at host start through <c>ValidateOnStart</c>):
/// <see cref="EngineOptions.Validate"/>, and that <see cref="EngineOptions.ModelPath"/> resolves to a model
/// directory — a file-system check, cheap next to the load, so even a lazily loaded engine with a wrong path fails
/// the start with the paths it tried.
/// </summary>
internal sealed class EngineOptionsValidator : IValidateOptions<EngineOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, EngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string prefix = string.IsNullOrEmpty(name) ? "PagedAttention: " : $"PagedAttention '{name}': ";
        try { options.Validate(); }
        catch (ArgumentException e) { return ValidateOptionsResult.Fail(prefix + e.Message); }
        try { ModelLocator.Resolve(options.ModelPath); }
        catch (ModelLoadException e) { return ValidateOptionsResult.Fail(prefix + e.Message); }
        return ValidateOptionsResult.Success;
    }
}
