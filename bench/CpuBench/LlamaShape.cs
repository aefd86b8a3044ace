namespace CpuBench;

/// <summary>The shape of the Llama-style checkpoint the decode benchmarks run.</summary>
internal sealed record LlamaShape(int Hidden, int Intermediate, int Layers, int Heads, int KvHeads, int Vocab)
{
    /// <summary>~300M parameters: hidden 1024, 16 layers, GQA 16/4, SwiGLU 4096, vocab 32000, untied head.</summary>
    public static LlamaShape Default { get; } = new(1024, 4096, 16, 16, 4, 32000);

    public int HeadDim => Hidden / Heads;

    public long LayerParams => (long)Hidden * Heads * HeadDim * 2 + 2L * Hidden * KvHeads * HeadDim + 3L * Hidden * Intermediate;

    public long TotalParams => LayerParams * Layers + 2L * Vocab * Hidden + (2L * Layers + 1) * Hidden;

    /// <summary>Weight bytes a decode step must read (bf16): every linear layer plus the LM head, not the embedding table.</summary>
    public long DecodeWeightBytes => 2 * (LayerParams * Layers + (long)Vocab * Hidden);

    public override string ToString() =>
        $"hidden {Hidden}, intermediate {Intermediate}, {Layers} layers, {Heads} heads / {KvHeads} KV heads (d={HeadDim}), vocab {Vocab}, {TotalParams / 1e6:F0}M params";
}
