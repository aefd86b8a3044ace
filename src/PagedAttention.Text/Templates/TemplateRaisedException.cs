namespace PagedAttention.Text.Templates;

/// <summary>
/// The template itself called <c>raise_exception(message)</c>, typically to reject a conversation it
/// cannot format (for example roles that do not alternate). <see cref="Exception.Message"/> is the
/// template's message, unchanged, as transformers surfaces it.
/// </summary>
public sealed class TemplateRaisedException : TemplateException
{
    /// <summary>Creates the exception with the template's own message.</summary>
    public TemplateRaisedException(string message, int line, int column)
        : base(message, 0, 0)
    {
        RaisedAtLine = line;
        RaisedAtColumn = column;
    }

    /// <summary>Line of the <c>raise_exception</c> call in the template.</summary>
    public int RaisedAtLine { get; }

    /// <summary>Column of the <c>raise_exception</c> call in the template.</summary>
    public int RaisedAtColumn { get; }
}
