using PagedAttention.AI.Sampling;

namespace PagedAttention.AI.Chat.StructuredOutput;

/// <summary>
/// Leaves the model free until its output ends with <see cref="Trigger"/> (e.g. <c>&lt;tool_call&gt;</c>, or
/// <c>&lt;/think&gt;</c> for a reasoning model), then applies a fresh inner constraint from the next token on. With
/// <c>rearm</c> (optional tool calls) the model is free again once the inner constraint is complete and the trigger
/// may fire again; without it (structured output after reasoning) completing the inner constraint ends the
/// sequence. A trigger that ends inside a token (the token carries text past it) does not fire: the inner constraint
/// works on whole tokens. Real templates' triggers are special tokens, which never share a token with other text.
/// </summary>
internal sealed class TriggeredConstraint(string trigger, Func<ITokenConstraint> inner, Func<int, string> tokenText, bool rearm) : ITokenConstraint
{
    private readonly char[] _tail = new char[Math.Max(1, trigger.Length)];
    private int _tailLength;
    private ITokenConstraint? _active;
    private bool _complete;

    /// <summary>The text after which the inner constraint applies.</summary>
    public string Trigger => trigger;

    /// <summary>Whether the inner constraint is applying now.</summary>
    public bool IsTriggered => _active is not null;

    public string Description => _active?.Description ?? $"the constraint after '{trigger}'";

    public void FillMask(Span<uint> allowed)
    {
        if (_active is not null) _active.FillMask(allowed);
        else allowed.Fill(uint.MaxValue);
    }

    public bool Accept(int token)
    {
        if (_active is { } c)
        {
            if (!c.Accept(token)) return false;
            if (c.IsComplete)
            {
                _active = null;
                _tailLength = 0;
                if (!rearm) _complete = true;
            }
            return true;
        }
        Push(tokenText(token));
        if (_tailLength == trigger.Length && trigger.AsSpan().SequenceEqual(_tail.AsSpan(0, _tailLength)))
        {
            _active = inner();
            _tailLength = 0;
        }
        return true;
    }

    public bool IsComplete => _complete;

    // Before the trigger the model is free: the step flags the row unconstrained instead of filling an all-ones mask.
    public bool ConstrainsNext => _active is not null;

    // Keeps the last Trigger.Length characters written (no allocation per token).
    private void Push(string text)
    {
        var t = text.AsSpan();
        if (t.Length >= _tail.Length)
        {
            t[^_tail.Length..].CopyTo(_tail);
            _tailLength = _tail.Length;
            return;
        }
        int keep = Math.Min(_tailLength, _tail.Length - t.Length);
        _tail.AsSpan(_tailLength - keep, keep).CopyTo(_tail);
        t.CopyTo(_tail.AsSpan(keep));
        _tailLength = keep + t.Length;
    }
}
