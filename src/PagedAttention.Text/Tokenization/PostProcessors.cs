namespace PagedAttention.Text.Tokenization;

/// <summary>A tokenizer.json post-processor, reduced to what a single sequence without offsets needs.</summary>
internal abstract class PostProcessor
{
    /// <summary>Adds the special tokens around <paramref name="ids"/> (only called when special tokens are wanted).</summary>
    public abstract void Process(IdBuffer ids);
}

/// <summary>ByteLevel as a post-processor only trims offsets; ids are unchanged.</summary>
internal sealed class NoOpPostProcessor : PostProcessor
{
    public override void Process(IdBuffer ids) { }
}

/// <summary>TemplateProcessing's "single" template: special-token ids before/after the sequence $A.</summary>
internal sealed class TemplatePostProcessor(int[] before, int[] after) : PostProcessor
{
    public override void Process(IdBuffer ids)
    {
        if (before.Length > 0) ids.Insert(0, before);
        ids.AddRange(after);
    }
}

internal sealed class SequencePostProcessor(PostProcessor[] items) : PostProcessor
{
    public override void Process(IdBuffer ids)
    {
        foreach (var p in items) p.Process(ids);
    }
}
