using System.Text.Json;

namespace PagedAttention.AI.Models;

/// <summary>
/// A compressed-tensors FP8 checkpoint's <c>quantization_config</c> (format <c>float-quantized</c>, as llm-compressor
/// writes and vLLM serves: <c>float8_e4m3fn</c> linear weights with a per-channel or per-tensor <c>weight_scale</c>).
/// docs/cpu-kernels.md, "FP8 checkpoints".
/// </summary>
/// <param name="PerChannel">Weights have one scale per output row (<c>strategy: channel</c>); false: one per tensor.</param>
/// <param name="Ignore">Modules left unquantized (<c>ignore</c>, e.g. <c>lm_head</c>).</param>
internal sealed record Fp8Format(bool PerChannel, IReadOnlyList<string> Ignore)
{
    private const string Hint = "supported: compressed-tensors format float-quantized with 8-bit float weights (strategy channel or tensor, " +
        "symmetric, static) on the CPU; otherwise load the bf16/f16/f32 checkpoint.";

    /// <summary>Reads the compressed-tensors config or throws naming what is not supported.</summary>
    public static Fp8Format Parse(JsonElement qc, string path)
    {
        string format = Str(qc, "format") ?? "(missing)";
        if (format != "float-quantized")
            throw new ModelLoadException(path, null, $"quantization_config: compressed-tensors format '{format}' is not supported; " + Hint);
        if (qc.TryGetProperty("kv_cache_scheme", out var kv) && kv.ValueKind != JsonValueKind.Null)
            throw new ModelLoadException(path, null, "quantization_config: kv_cache_scheme (quantized KV cache scales) is not supported; " + Hint);
        if (!qc.TryGetProperty("config_groups", out var groups) || groups.ValueKind != JsonValueKind.Object)
            throw new ModelLoadException(path, null, "quantization_config: compressed-tensors without config_groups; " + Hint);
        var list = groups.EnumerateObject().ToList();
        if (list.Count != 1)
            throw new ModelLoadException(path, null, $"quantization_config: {list.Count} config_groups (only one scheme for every Linear is supported); " + Hint);
        var g = list[0].Value;
        if (g.ValueKind != JsonValueKind.Object)
            throw new ModelLoadException(path, null, $"quantization_config: config group '{list[0].Name}' is not an object; " + Hint);
        if (!g.TryGetProperty("targets", out var targets) || targets.ValueKind != JsonValueKind.Array || !targets.EnumerateArray().Any(t => t.ValueKind == JsonValueKind.String && t.GetString() == "Linear"))
            throw new ModelLoadException(path, null, "quantization_config: the config group's targets do not include \"Linear\"; " + Hint);
        if (!g.TryGetProperty("weights", out var w) || w.ValueKind != JsonValueKind.Object)
            throw new ModelLoadException(path, null, "quantization_config: the config group has no weights scheme; " + Hint);
        string type = Str(w, "type") ?? "(missing)";
        string bits = w.TryGetProperty("num_bits", out var nb) ? nb.GetRawText() : "(missing)";
        if (type != "float" || bits != "8")
            throw new ModelLoadException(path, null, $"quantization_config: weights of type {type} with num_bits {bits} are not supported (only 8-bit float); " + Hint);
        if (w.TryGetProperty("symmetric", out var sym) && sym.ValueKind == JsonValueKind.False)
            throw new ModelLoadException(path, null, "quantization_config: asymmetric FP8 weights (symmetric false) are not supported; " + Hint);
        if (w.TryGetProperty("dynamic", out var dyn) && dyn.ValueKind == JsonValueKind.True)
            throw new ModelLoadException(path, null, "quantization_config: dynamic weight scales are not supported; " + Hint);
        if (w.TryGetProperty("block_structure", out var block) && block.ValueKind != JsonValueKind.Null)
            throw new ModelLoadException(path, null, $"quantization_config: block-wise FP8 weight scales (block_structure {block.GetRawText()}) are not supported; " + Hint);
        string strategy = Str(w, "strategy") ?? "tensor";
        bool perChannel = strategy switch
        {
            "channel" => true,
            "tensor" => false,
            _ => throw new ModelLoadException(path, null, $"quantization_config: FP8 weight strategy '{strategy}' is not supported (only channel and tensor); " + Hint),
        };
        if (g.TryGetProperty("output_activations", out var oa) && oa.ValueKind != JsonValueKind.Null)
            throw new ModelLoadException(path, null, "quantization_config: output_activations quantization is not supported; " + Hint);
        // input_activations (dynamic per-token or static FP8 activations) are accepted: the CPU keeps activations in
        // float32 (weight-only FP8), which is at least as accurate as the W8A8 product the scheme describes.
        var ignore = qc.TryGetProperty("ignore", out var ig) && ig.ValueKind == JsonValueKind.Array
            ? ig.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToArray()
            : [];
        return new Fp8Format(perChannel, ignore);
    }

    private static string? Str(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
