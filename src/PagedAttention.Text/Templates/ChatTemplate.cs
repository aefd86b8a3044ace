using System.Text;
using System.Text.Json.Nodes;

namespace PagedAttention.Text.Templates;

/// <summary>
/// A parsed Hugging Face <c>chat_template</c> (a Jinja2 subset with Python semantics, configured like
/// transformers' apply_chat_template). Parse once; <see cref="Render(JsonObject)"/> is thread-safe and
/// can run concurrently, because the parsed tree is immutable and each render gets its own variables.
/// </summary>
public sealed class ChatTemplate
{
    private readonly List<Stmt> _body;

    private ChatTemplate(string source, List<Stmt> body)
    {
        Source = source;
        _body = body;
    }

    /// <summary>The template text this instance was parsed from.</summary>
    public string Source { get; }

    /// <summary>Parses a template string. Throws <see cref="TemplateException"/> (with line and column) on a syntax error.</summary>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        try { return new ChatTemplate(source, Parser.Parse(source)); }
        catch (InsufficientExecutionStackException e) { throw TooDeep(e); }
        catch (Exception e) when (e is not TemplateException)
        {
            throw new TemplateException($"internal error while parsing: {e.GetType().Name}: {e.Message}", 0, 0, e);
        }
    }

    /// <summary>
    /// Parses the <c>chat_template</c> value of a tokenizer_config.json: either a string, or a list of
    /// <c>{"name", "template"}</c> objects from which <paramref name="name"/> is chosen (transformers uses
    /// "default" unless a named one such as "tool_use" is asked for).
    /// </summary>
    public static ChatTemplate Parse(JsonNode chatTemplate, string name = "default")
    {
        ArgumentNullException.ThrowIfNull(chatTemplate);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (chatTemplate is JsonValue v && v.TryGetValue<string>(out var s)) return Parse(s);
        if (chatTemplate is JsonArray list)
        {
            var names = new List<string>();
            foreach (var entry in list)
            {
                var entryName = entry?["name"]?.GetValue<string>();
                if (entryName is null) continue;
                names.Add(entryName);
                if (entryName == name)
                    return Parse(entry!["template"]?.GetValue<string>() ?? throw new ArgumentException($"chat template '{name}' has no template text", nameof(chatTemplate)));
            }
            throw new ArgumentException($"No chat template named '{name}'; available: {string.Join(", ", names)}", nameof(name));
        }
        throw new ArgumentException("chat_template must be a string or a list of {name, template} objects", nameof(chatTemplate));
    }

    /// <summary>Renders with the given variables (messages, tools, add_generation_prompt, bos_token, ...) within <see cref="TemplateLimits.Default"/>.</summary>
    /// <exception cref="TemplateException">The template fails, or exceeds a limit (the message names it).</exception>
    public string Render(JsonObject context) => Render(context, TimeProvider.System, TemplateLimits.Default, CancellationToken.None);

    /// <summary>Renders within <see cref="TemplateLimits.Default"/>, stopping with <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires.</summary>
    public string Render(JsonObject context, CancellationToken cancellationToken) => Render(context, TimeProvider.System, TemplateLimits.Default, cancellationToken);

    /// <summary>Renders with a clock for <c>strftime_now</c> (pin it to make output reproducible).</summary>
    public string Render(JsonObject context, TimeProvider clock) => Render(context, clock, TemplateLimits.Default, CancellationToken.None);

    /// <summary>
    /// Renders with a clock (for <c>strftime_now</c> and the time limit), a budget, and a cancellation token. Throws only
    /// <see cref="TemplateException"/> (or its subclass <see cref="TemplateRaisedException"/>) and
    /// <see cref="OperationCanceledException"/>; the budget and the token are checked at every loop iteration, macro
    /// call and allocation, so a hostile template ends promptly with bounded memory.
    /// </summary>
    public string Render(JsonObject context, TimeProvider clock, TemplateLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(limits);
        cancellationToken.ThrowIfCancellationRequested();
        return Render(context, new RenderState(clock, limits, cancellationToken));
    }

    /// <summary>Renders and reports what the budget counted (tests and benchmarks measure real templates with it).</summary>
    internal string Render(JsonObject context, TimeProvider clock, out long allocated, out long iterations)
    {
        var state = new RenderState(clock);
        string result = Render(context, state);
        allocated = state.Allocated;
        iterations = state.Iterations;
        return result;
    }

    private string Render(JsonObject context, RenderState state)
    {
        using var current = state.Enter();
        try
        {
            var vars = new Dictionary<string, object?>(context.Count + 4, StringComparer.Ordinal);
            foreach (var kv in context) vars[kv.Key] = JsonValues.FromNode(kv.Value);
            var scope = new Scope(Builtins.Root, vars);
            var sb = new StringBuilder(1024);
            Stmt.ExecAll(_body, scope, state, sb);
            return sb.ToString();
        }
        catch (InsufficientExecutionStackException e) { throw TooDeep(e); }
        catch (Exception e) when (e is not TemplateException and not OperationCanceledException)
        {
            // The last line of defence: every known cause is fixed where it arises, but a caller must only ever see
            // the documented types. An OutOfMemoryException here is a limit the budget did not foresee.
            throw new TemplateException($"internal error while rendering: {e.GetType().Name}: {e.Message}", 0, 0, e);
        }
    }

    // Python Jinja2 raises RecursionError here; this renderer stops before the thread's stack runs out.
    private static TemplateException TooDeep(Exception inner) =>
        new("recursion limit: the template nests or recurses too deeply (a self-recursive macro, or thousands of nested expressions)", 0, 0, inner);
}
