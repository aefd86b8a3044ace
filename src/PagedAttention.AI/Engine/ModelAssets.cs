using System.Text.Json;
using System.Text.Json.Nodes;
using PagedAttention.Text.Templates;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.AI.Engine;

/// <summary>The non-weight files of a model directory: tokenizer and chat template, both optional.</summary>
internal sealed record ModelAssets(Tokenizer? Tokenizer, ChatTemplate? ChatTemplate, string ModelId)
{
    /// <summary>Special tokens whose text tool-call and reasoning parsers need to see in the output.</summary>
    public static IReadOnlySet<string> StructuralTokens { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "[TOOL_CALLS]", "[ARGS]", "<tool_call>", "</tool_call>", "<|python_tag|>", "<think>", "</think>",
    };

    public static ModelAssets Load(string dir)
    {
        string id = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
        if (!File.Exists(Path.Combine(dir, "tokenizer.json"))) return new ModelAssets(null, null, id);
        var tokenizer = Tokenizer.FromFile(dir);
        // transformers 4.43+ may store the template in chat_template.jinja instead of tokenizer_config.json.
        string jinja = Path.Combine(dir, "chat_template.jinja");
        string? source = File.Exists(jinja) ? File.ReadAllText(jinja) : tokenizer.ChatTemplate;
        ChatTemplate? template = null;
        if (source is not null)
        {
            try
            {
                template = source.TrimStart().StartsWith('[') && TryParseList(source) is JsonArray list
                    ? ChatTemplate.Parse(list)
                    : ChatTemplate.Parse(source);
            }
            catch (TemplateException e)
            {
                throw new Models.ModelLoadException(Path.Combine(dir, File.Exists(jinja) ? "chat_template.jinja" : "tokenizer_config.json"), null, $"chat_template: {e.Message}", e);
            }
        }
        return new ModelAssets(tokenizer, template, id);
    }

    private static JsonArray? TryParseList(string source)
    {
        try { return JsonNode.Parse(source) as JsonArray; }
        catch (JsonException) { return null; }
    }
}
