using PagedAttention.AI.Chat.StructuredOutput;
using System.Text.Json;
using System.Text.Json.Nodes;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.AI.Sampling;
using PagedAttention.Text.Templates;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.AI.Chat;

/// <summary>
/// What the chat client needs from a model directory besides the engine: the tokenizer (the engine's), the chat
/// template (tokenizer_config.json's <c>chat_template</c> or chat_template.jinja, loaded here), the model id, and a
/// detokenizer that keeps the special tokens the tool-call and reasoning parsers read.
/// </summary>
internal sealed class ChatModelAssets
{
    /// <summary>Special tokens whose text the tool-call and reasoning parsers need to see in the output.</summary>
    public static IReadOnlySet<string> StructuralTokens { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        ToolCallParser.MistralMarker, ToolCallParser.MistralArgs, ToolCallParser.HermesOpen, ToolCallParser.HermesClose,
        ToolCallParser.PythonTag, ReasoningSplitter.Open, ReasoningSplitter.Close,
    };

    /// <summary>The roles every chat template handles (OpenAI's).</summary>
    public static IReadOnlySet<string> StandardRoles { get; } = new HashSet<string>(StringComparer.Ordinal) { "system", "user", "assistant", "tool" };

    private readonly string _source;

    private ChatModelAssets(Tokenizer tokenizer, ChatTemplate template, string source, string modelId, IReadOnlyList<int> eosTokenIds, int logitsWidth)
    {
        ToolFormat = ToolCallFormat.Detect(source);
        HasReasoning = source.Contains("<think>", StringComparison.Ordinal);
        StructuredOutput = new StructuredOutputCompiler(tokenizer, eosTokenIds, logitsWidth);
        Tokenizer = tokenizer;
        Template = template;
        _source = source;
        ModelId = modelId;
        Guard = new SpecialTokenGuard(tokenizer);
        Detokenizer = StreamingDecoderDetokenizer.Factory(tokenizer, skipSpecialTokens: true, keepSpecialTokens: StructuralTokens);
    }

    public Tokenizer Tokenizer { get; }

    /// <summary>How this model's template writes tool calls (what a required tool call is constrained to).</summary>
    public ToolCallFormat ToolFormat { get; }

    /// <summary>Compiles structured-output plans into constraints for this model's vocabulary.</summary>
    public StructuredOutputCompiler StructuredOutput { get; }

    /// <summary>Whether the template has a reasoning block (<c>&lt;think&gt;</c>), after which structured output starts.</summary>
    public bool HasReasoning { get; }

    public ChatTemplate Template { get; }

    /// <summary>The model directory's name.</summary>
    public string ModelId { get; }

    /// <summary>Keeps special-token text inside messages from becoming control tokens.</summary>
    public SpecialTokenGuard Guard { get; }

    /// <summary>
    /// Whether a message may have <paramref name="role"/>: a standard role, or one the template names as a string
    /// literal (e.g. <c>'ipython'</c>, <c>"developer"</c>; lower-case letters and '_' only). Anything else would be rendered as-is into a turn header.
    /// </summary>
    public bool IsKnownRole(string role) =>
        StandardRoles.Contains(role) ||
        (role.Length is > 0 and <= 32 && role.All(c => c is (>= 'a' and <= 'z') or '_') && (_source.Contains($"'{role}'", StringComparison.Ordinal) || _source.Contains($"\"{role}\"", StringComparison.Ordinal)));

    /// <summary>One detokenizer per generated sequence: special tokens skipped except <see cref="StructuralTokens"/>.</summary>
    public Func<IStreamingDetokenizer> Detokenizer { get; }

    /// <summary>
    /// The assets of <paramref name="engine"/>'s model. Throws <see cref="InvalidOperationException"/> when the
    /// directory has no tokenizer or no template, <see cref="ModelLoadException"/> when the template does not parse.
    /// </summary>
    public static ChatModelAssets Load(LlmEngine engine)
    {
        string dir = engine.Model.Directory;
        var tokenizer = engine.Tokenizer ?? throw new InvalidOperationException($"The model in '{dir}' has no tokenizer.json; a chat client needs one.");
        string id = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
        // transformers 4.43+ may store the template in chat_template.jinja instead of tokenizer_config.json.
        string jinja = Path.Combine(dir, "chat_template.jinja");
        string? source = File.Exists(jinja) ? File.ReadAllText(jinja) : tokenizer.ChatTemplate;
        if (source is null)
            throw new InvalidOperationException($"The model in '{dir}' has no chat_template in tokenizer_config.json (or chat_template.jinja); a chat client needs one.");
        ChatTemplate template;
        try
        {
            template = source.TrimStart().StartsWith('[') && TryParseList(source) is JsonArray list
                ? ChatTemplate.Parse(list)
                : ChatTemplate.Parse(source);
        }
        catch (TemplateException e)
        {
            throw new ModelLoadException(Path.Combine(dir, File.Exists(jinja) ? "chat_template.jinja" : "tokenizer_config.json"), null, $"chat_template: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            // A list of named templates without a "default" one (the entries themselves are checked when the tokenizer loads).
            throw new ModelLoadException(Path.Combine(dir, "tokenizer_config.json"), null, $"chat_template: {e.Message}", e);
        }
        return new ChatModelAssets(tokenizer, template, source, id, engine.Model.Config.EosTokenIds, engine.Model.Config.VocabSize);
    }

    private static JsonArray? TryParseList(string source)
    {
        try { return JsonNode.Parse(source) as JsonArray; }
        catch (JsonException) { return null; }
    }
}
