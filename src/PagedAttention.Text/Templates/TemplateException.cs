namespace PagedAttention.Text.Templates;

/// <summary>
/// A chat template failed to parse or to render: a syntax error, an undefined value used where Jinja
/// raises, or a type error. <see cref="Line"/> and <see cref="Column"/> point into the template source
/// (1-based; 0 when unknown).
/// </summary>
/// <remarks>Not sealed: <see cref="TemplateRaisedException"/> derives from it so callers can catch one type.</remarks>
public class TemplateException : Exception
{
    /// <summary>Creates an exception for a problem at a 1-based line and column of the template.</summary>
    public TemplateException(string message, int line, int column)
        : base(line > 0 ? $"{message} (line {line}, column {column})" : message)
    {
        Detail = message;
        Line = line;
        Column = column;
    }

    /// <summary>Creates an exception that wraps another one.</summary>
    public TemplateException(string message, int line, int column, Exception inner)
        : base(line > 0 ? $"{message} (line {line}, column {column})" : message, inner)
    {
        Detail = message;
        Line = line;
        Column = column;
    }

    /// <summary>The message without the position suffix.</summary>
    public string Detail { get; }

    /// <summary>1-based line of the problem in the template source, or 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>1-based column of the problem in the template source, or 0 when unknown.</summary>
    public int Column { get; }
}
