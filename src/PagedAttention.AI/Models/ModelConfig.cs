using System.Text.Json;

namespace PagedAttention.AI.Models;

/// <summary>
/// The parts of a Hugging Face <c>config.json</c> (and <c>generation_config.json</c>) that the Llama-family forward
/// pass needs. Supported architectures: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM.
/// </summary>
public sealed class ModelConfig
{
    /// <summary>Architectures this engine runs.</summary>
    public static IReadOnlyList<string> SupportedArchitectures { get; } =
        ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"];

    /// <summary>The <c>architectures[0]</c> entry.</summary>
    public required string Architecture { get; init; }
    /// <summary>Model width.</summary>
    public required int HiddenSize { get; init; }
    /// <summary>MLP width.</summary>
    public required int IntermediateSize { get; init; }
    /// <summary>Decoder layers.</summary>
    public required int NumLayers { get; init; }
    /// <summary>Query heads.</summary>
    public required int NumHeads { get; init; }
    /// <summary>Key/value heads (grouped-query attention when fewer than <see cref="NumHeads"/>).</summary>
    public required int NumKvHeads { get; init; }
    /// <summary>Elements per head (explicit <c>head_dim</c>, or hidden / heads).</summary>
    public required int HeadDim { get; init; }
    /// <summary>Vocabulary size (rows of the embedding).</summary>
    public required int VocabSize { get; init; }
    /// <summary>RMSNorm epsilon.</summary>
    public required float RmsNormEps { get; init; }
    /// <summary>Rotary embedding parameters.</summary>
    public required RopeScaling Rope { get; init; }
    /// <summary>Longest sequence (prompt + output) the model accepts; capped by a sliding window when one is active.</summary>
    public required int MaxPositionEmbeddings { get; init; }
    /// <summary>The output projection is the embedding matrix.</summary>
    public required bool TieWordEmbeddings { get; init; }
    /// <summary>q/k/v projections have biases (Qwen2, or Llama's <c>attention_bias</c>).</summary>
    public required bool QkvBias { get; init; }
    /// <summary>The output projection has a bias (Llama's <c>attention_bias</c>).</summary>
    public required bool OBias { get; init; }
    /// <summary>Per-head RMSNorm of q and k before RoPE (Qwen3).</summary>
    public required bool QkNorm { get; init; }
    /// <summary>End-of-sequence token ids (generation_config.json first, then config.json).</summary>
    public required IReadOnlyList<int> EosTokenIds { get; init; }
    /// <summary>Beginning-of-sequence token id, if any.</summary>
    public int? BosTokenId { get; init; }
    /// <summary>The GPTQ format of a pre-quantized checkpoint (<c>quantization_config</c>), or null for a float checkpoint.</summary>
    internal GptqFormat? Gptq { get; init; }

    /// <summary>The FP8 format of a compressed-tensors checkpoint (<c>quantization_config</c>), or null.</summary>
    internal Fp8Format? Fp8 { get; init; }

    /// <summary>Reads <c>config.json</c> and, if present, <c>generation_config.json</c> from <paramref name="modelDir"/>.</summary>
    /// <exception cref="ModelLoadException">A file is missing, malformed, or describes an unsupported model.</exception>
    public static ModelConfig Load(string modelDir)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDir);
        string path = Path.Combine(modelDir, "config.json");
        if (!File.Exists(path) && new FileInfo(path).LinkTarget is null) throw new ModelLoadException(path, null, "config.json not found in the model directory.");
        using var doc = ModelFiles.ParseJson(path);
        string genPath = Path.Combine(modelDir, "generation_config.json");
        // A dangling or looping link counts as present: it fails in ParseJson, naming the file, instead of being skipped.
        using var gen = File.Exists(genPath) || new FileInfo(genPath).LinkTarget is not null ? ModelFiles.ParseJson(genPath) : null;
        if (gen is not null && gen.RootElement.ValueKind != JsonValueKind.Object)
            throw new ModelLoadException(genPath, null, "the root is not a JSON object.");
        var config = Parse(doc.RootElement, path, gen is null ? null : ReadIds(gen.RootElement, "eos_token_id", genPath));
        // Ids outside the vocabulary would index past the logits later (min_tokens masks eos): fail the load instead.
        CheckTokenIds(doc.RootElement, path, config.VocabSize);
        if (gen is not null) CheckTokenIds(gen.RootElement, genPath, config.VocabSize);
        return config;
    }

    private static void CheckTokenIds(JsonElement root, string path, int vocabSize)
    {
        foreach (var field in (ReadOnlySpan<string>)["eos_token_id", "bos_token_id", "pad_token_id"])
            foreach (int id in ReadIds(root, field, path) ?? [])
                if ((uint)id >= (uint)vocabSize)
                    throw new ModelLoadException(path, null, $"'{field}' holds {id}, outside the vocabulary [0, {vocabSize}) of vocab_size {vocabSize}.");
    }

    /// <summary>
    /// Reads <c>quantization_config</c>: GPTQ 4-bit symmetric (sym true, desc_act false, group_size -1 or a positive
    /// multiple of 32, checkpoint_format gptq or gptq_v2, lm_head not quantized) is read exactly into the CPU's Int4
    /// format (docs/cpu-kernels.md, "Reading GPTQ checkpoints"); every other format or option is rejected naming it.
    /// </summary>
    private static GptqFormat ParseQuantization(JsonElement qc, string path)
    {
        const string Hint = "supported: GPTQ 4-bit symmetric (quant_method gptq, bits 4, sym true, desc_act false, group_size -1 or a multiple of 32) " +
            "and compressed-tensors FP8 (float-quantized) on the CPU; " +
            "otherwise load the bf16/f16/f32 checkpoint and set EngineOptions.WeightQuantization to Int8 or Int4 to quantize it at load on the CPU.";
        if (qc.ValueKind != JsonValueKind.Object) throw new ModelLoadException(path, null, "quantization_config: is not a JSON object; " + Hint);
        string method = qc.TryGetProperty("quant_method", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() ?? "unknown" : "unknown";
        string bitsText = qc.TryGetProperty("bits", out var b) && b.ValueKind == JsonValueKind.Number ? b.GetRawText() : "";
        if (!string.Equals(method, "gptq", StringComparison.OrdinalIgnoreCase))
            throw new ModelLoadException(path, null,
                $"pre-quantized checkpoints in format '{method}'{(bitsText.Length > 0 ? $" ({bitsText}-bit)" : "")} are not supported; " + Hint);
        if (bitsText != "4")
            throw new ModelLoadException(path, null, $"quantization_config: GPTQ with bits {(bitsText.Length > 0 ? bitsText : "(missing)")} is not supported (only 4-bit GPTQ is read); " + Hint);
        if (Flag(qc, "sym", path) == false)
            throw new ModelLoadException(path, null, "quantization_config: GPTQ with sym false (asymmetric zero points) is not supported: the CPU Int4 format is symmetric; " + Hint);
        if (Flag(qc, "desc_act", path) == true)
            throw new ModelLoadException(path, null, "quantization_config: GPTQ with desc_act true (act-order: a permuted g_idx) is not supported; " + Hint);
        if (Flag(qc, "lm_head", path) == true)
            throw new ModelLoadException(path, null, "quantization_config: GPTQ with lm_head true (a quantized LM head) is not supported; " + Hint);
        int group = 128; // transformers' GPTQConfig default
        if (qc.TryGetProperty("group_size", out var g))
        {
            if (g.ValueKind != JsonValueKind.Number || !g.TryGetInt32(out group))
                throw new ModelLoadException(path, null, $"quantization_config: GPTQ group_size {g.GetRawText()} is not an integer; " + Hint);
        }
        if (group != -1 && (group <= 0 || group % 32 != 0))
            throw new ModelLoadException(path, null, $"quantization_config: GPTQ group_size {group} is not supported (the CPU Int4 format has a scale per 32 inputs: use -1 or a multiple of 32); " + Hint);
        string format = qc.TryGetProperty("checkpoint_format", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() ?? "gptq" : "gptq";
        bool v1 = format switch
        {
            "gptq" => true,
            "gptq_v2" => false,
            _ => throw new ModelLoadException(path, null, $"quantization_config: GPTQ checkpoint_format '{format}' is not supported (only gptq and gptq_v2); " + Hint),
        };
        return new GptqFormat(group, v1);
    }

    /// <summary>Refuses a GPTQ checkpoint on a device backend: its Int4 weights, like EngineOptions.WeightQuantization Int8 and Int4, are CPU-only (FP8 checkpoints run on both).</summary>
    /// <exception cref="ModelLoadException"><paramref name="config"/> is a GPTQ checkpoint.</exception>
    internal static void RejectCpuOnlyFormatsOn(string device, ModelConfig config, string modelDir)
    {
        if (config.Gptq is not null)
            throw new ModelLoadException(Path.Combine(modelDir, "config.json"), null,
                $"quantization_config: GPTQ checkpoints are CPU-only (their Int4 weights, like EngineOptions.WeightQuantization, are not supported with Device \"{device}\"); use Device \"cpu\", or the bf16/f16 checkpoint.");
    }

    private static bool? Flag(JsonElement qc, string name, string path) =>
        !qc.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ModelLoadException(path, null, $"quantization_config: '{name}' is not a boolean."),
        };

    private static ModelConfig Parse(JsonElement root, string path, IReadOnlyList<int>? genEos)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new ModelLoadException(path, null, "the root is not a JSON object.");
        var r = new Reader(root, path);
        string arch = r.Architecture();
        if (!SupportedArchitectures.Contains(arch))
            throw new ModelLoadException(path, null, $"unsupported architecture '{arch}'; supported: {string.Join(", ", SupportedArchitectures)}.");
        string act = r.String("hidden_act") ?? "silu";
        if (act != "silu") throw new ModelLoadException(path, null, $"unsupported hidden_act '{act}' (only silu).");
        if (r.Bool("mlp_bias") == true) throw new ModelLoadException(path, null, "mlp_bias = true is not supported.");
        GptqFormat? gptq = null;
        Fp8Format? fp8 = null;
        if (root.TryGetProperty("quantization_config", out var qc))
        {
            if (qc.ValueKind == JsonValueKind.Object && qc.TryGetProperty("quant_method", out var qm) && qm.ValueKind == JsonValueKind.String && qm.GetString() == "compressed-tensors")
                fp8 = Fp8Format.Parse(qc, path);
            else
                gptq = ParseQuantization(qc, path);
        }

        int hidden = r.RequiredInt("hidden_size"), heads = r.RequiredInt("num_attention_heads");
        int kvHeads = r.Int("num_key_value_heads") ?? heads;
        int headDim = r.Int("head_dim") ?? (hidden % heads == 0 ? hidden / heads : throw new ModelLoadException(path, null, $"hidden_size {hidden} is not divisible by num_attention_heads {heads} and head_dim is missing."));
        if (headDim > ConfigLimits.HeadDim) throw new ModelLoadException(path, null, $"hidden_size / num_attention_heads = {headDim} is above the head_dim limit of {ConfigLimits.HeadDim}.");
        if (heads % kvHeads != 0) throw new ModelLoadException(path, null, $"num_attention_heads {heads} is not a multiple of num_key_value_heads {kvHeads}.");
        if (headDim % 2 != 0) throw new ModelLoadException(path, null, $"head_dim {headDim} must be even for rotary embeddings.");
        int maxPos = r.Int("max_position_embeddings") ?? 2048;
        bool slidingActive = arch switch
        {
            "MistralForCausalLM" => true,
            "Qwen2ForCausalLM" or "Qwen3ForCausalLM" => r.Bool("use_sliding_window") == true,
            _ => false,
        };
        // A sliding window only changes attention past its length; capping the context keeps results exact.
        if (slidingActive && r.Int("sliding_window") is int window && window > 0) maxPos = Math.Min(maxPos, window);
        bool attentionBias = r.Bool("attention_bias") == true;
        bool qwen2 = arch == "Qwen2ForCausalLM";
        var eos = genEos ?? ReadIds(root, "eos_token_id", path) ?? [];
        var bos = ReadIds(root, "bos_token_id", path);
        return new ModelConfig
        {
            Architecture = arch,
            Gptq = gptq,
            Fp8 = fp8,
            HiddenSize = hidden,
            IntermediateSize = r.RequiredInt("intermediate_size"),
            NumLayers = r.RequiredInt("num_hidden_layers"),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = headDim,
            VocabSize = r.RequiredInt("vocab_size"),
            RmsNormEps = (float)r.Number("rms_norm_eps", 1e-6, min: 0, max: 1),
            Rope = r.Rope(),
            MaxPositionEmbeddings = maxPos,
            TieWordEmbeddings = r.Bool("tie_word_embeddings") ?? false,
            QkvBias = qwen2 || attentionBias,
            OBias = !qwen2 && attentionBias,
            QkNorm = arch == "Qwen3ForCausalLM",
            EosTokenIds = eos,
            BosTokenId = bos is { Count: > 0 } ? bos[0] : null,
        };
    }

    private static IReadOnlyList<int>? ReadIds(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.Number)
            return v.TryGetInt32(out int one) ? [one] : throw new ModelLoadException(path, null, $"'{name}' must be an integer, found {Reader.Raw(v)}.");
        if (v.ValueKind == JsonValueKind.Array)
        {
            var ids = new List<int>();
            foreach (var e in v.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int id)) throw new ModelLoadException(path, null, $"'{name}' must hold integers, found {Reader.Raw(e)}.");
                ids.Add(id);
            }
            return ids;
        }
        throw new ModelLoadException(path, null, $"'{name}' must be an integer or a list of integers.");
    }

    private readonly struct Reader(JsonElement root, string path)
    {
        public string Architecture()
        {
            if (!root.TryGetProperty("architectures", out var a) || a.ValueKind != JsonValueKind.Array || a.GetArrayLength() == 0 || a[0].ValueKind != JsonValueKind.String)
                throw new ModelLoadException(path, null, "missing field 'architectures' (a list naming the model class).");
            return a[0].GetString()!;
        }

        public int RequiredInt(string name) =>
            Int(name) ?? throw new ModelLoadException(path, null, $"missing required field '{name}'.");

        public int? Int(string name)
        {
            if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            // An integer beyond int's range is still "above the limit", not "not an integer".
            if (ConfigLimits.Of(name) is int lim && v.ValueKind == JsonValueKind.Number && !v.TryGetInt32(out _) && v.TryGetDouble(out double big) && big > lim && big == Math.Floor(big))
                throw new ModelLoadException(path, null, $"field '{name}' is {v.GetRawText()}, above the limit of {lim}.");
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i)) throw new ModelLoadException(path, null, $"field '{name}' must be an integer, found {v.GetRawText()}.");
            if (i <= 0) throw new ModelLoadException(path, null, $"field '{name}' must be positive, found {i}.");
            if (ConfigLimits.Of(name) is int limit && i > limit)
                throw new ModelLoadException(path, null, $"field '{name}' is {i}, above the limit of {limit}.");
            return i;
        }

        public double? Double(string name) => Double(root, name);

        // GetDouble throws FormatException for numbers beyond double's range (1e999), so numbers are read with TryGetDouble.
        private double? Double(JsonElement obj, string name)
        {
            if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d))
                throw new ModelLoadException(path, null, $"field '{name}' must be a finite number, found {Raw(v)}.");
            return d;
        }

        /// <summary>A number in [min, max] ((min, max] when <paramref name="positive"/>), or the fallback when absent.</summary>
        public double Number(string name, double fallback, double min, double max, bool positive = false) => Number(root, name, fallback, min, max, positive);

        private double Number(JsonElement obj, string name, double fallback, double min, double max, bool positive = false)
        {
            double d = Double(obj, name) ?? fallback;
            if (d < min || d > max || (positive && d <= min))
                throw new ModelLoadException(path, null, $"field '{name}' is {d.ToString(System.Globalization.CultureInfo.InvariantCulture)}, outside {(positive ? "(" : "[")}{min}, {max.ToString(System.Globalization.CultureInfo.InvariantCulture)}].");
            return d;
        }

        public static string Raw(JsonElement v)
        {
            string raw = v.GetRawText();
            return raw.Length <= 80 ? raw : raw[..80] + "…";
        }

        public bool? Bool(string name)
        {
            if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new ModelLoadException(path, null, $"field '{name}' must be true or false, found {v.GetRawText()}."),
            };
        }

        public string? String(string name)
        {
            if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            return v.ValueKind == JsonValueKind.String ? v.GetString() : throw new ModelLoadException(path, null, $"field '{name}' must be a string, found {Raw(v)}.");
        }

        public RopeScaling Rope()
        {
            // transformers 5 writes rope_parameters (theta inside); older checkpoints have rope_theta + rope_scaling.
            double theta = Number("rope_theta", 10000.0, min: 0, max: double.MaxValue, positive: true);
            JsonElement scaling = default;
            bool has = false;
            foreach (var key in (ReadOnlySpan<string>)["rope_parameters", "rope_scaling"])
                if (root.TryGetProperty(key, out var s) && s.ValueKind == JsonValueKind.Object) { scaling = s; has = true; break; }
            if (!has) return new RopeScaling(RopeType.Default, theta);
            theta = Number(scaling, "rope_theta", theta, min: 0, max: double.MaxValue, positive: true);
            string type = (scaling.TryGetProperty("rope_type", out var t) || scaling.TryGetProperty("type", out t)) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "default";
            double factor = Number(scaling, "factor", 1.0, min: 0, max: 1e6, positive: true);
            return type switch
            {
                "default" => new RopeScaling(RopeType.Default, theta),
                "linear" => new RopeScaling(RopeType.Linear, theta, factor),
                "llama3" => Llama3(scaling, theta, factor),
                _ => throw new ModelLoadException(path, null, $"unsupported rope scaling type '{type}' (supported: default, linear, llama3)."),
            };
        }

        private RopeScaling Llama3(JsonElement scaling, double theta, double factor)
        {
            double low = Required(scaling, "low_freq_factor", max: 1e6), high = Required(scaling, "high_freq_factor", max: 1e6);
            // The smoothing divides by (high - low).
            if (!(high > low)) throw new ModelLoadException(path, null, $"rope scaling needs high_freq_factor > low_freq_factor, found {high} and {low}.");
            return new RopeScaling(RopeType.Llama3, theta, factor, low, high,
                (int)Required(scaling, "original_max_position_embeddings", max: ConfigLimits.MaxPositionEmbeddings));
        }

        private double Required(JsonElement scaling, string name, double max) =>
            Double(scaling, name) is null ? throw Missing(name) : Number(scaling, name, 0, min: 0, max: max, positive: true);

        private ModelLoadException Missing(string name) => new(path, null, $"rope scaling is missing '{name}'.");
    }
}
