using System.Text;
using System.Text.Json;
using PagedAttention.Kernels;

namespace CpuBench;

/// <summary>
/// Writes a random-weight bf16 Llama checkpoint (config.json + model.safetensors) with Hugging Face tensor names; with
/// <c>fp8</c>, the same random weights with every decoder linear layer as a compressed-tensors FP8 checkpoint (E4M3
/// codes, an F32 scale per output row; embeddings, norms and LM head bf16, as llm-compressor writes them).
/// </summary>
internal static unsafe class CheckpointWriter
{
    public static void Write(string dir, LlamaShape m, bool fp8 = false)
    {
        Directory.CreateDirectory(dir);
        int h = m.Hidden, hd = m.HeadDim;
        var tensors = new List<(string Name, int Rows, int Cols, bool Norm)>
        {
            ("model.embed_tokens.weight", m.Vocab, h, false),
        };
        for (int l = 0; l < m.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            tensors.Add((p + "input_layernorm.weight", 1, h, true));
            tensors.Add((p + "post_attention_layernorm.weight", 1, h, true));
            tensors.Add((p + "self_attn.q_proj.weight", m.Heads * hd, h, false));
            tensors.Add((p + "self_attn.k_proj.weight", m.KvHeads * hd, h, false));
            tensors.Add((p + "self_attn.v_proj.weight", m.KvHeads * hd, h, false));
            tensors.Add((p + "self_attn.o_proj.weight", h, m.Heads * hd, false));
            tensors.Add((p + "mlp.gate_proj.weight", m.Intermediate, h, false));
            tensors.Add((p + "mlp.up_proj.weight", m.Intermediate, h, false));
            tensors.Add((p + "mlp.down_proj.weight", h, m.Intermediate, false));
        }
        tensors.Add(("model.norm.weight", 1, h, true));
        tensors.Add(("lm_head.weight", m.Vocab, h, false));

        bool IsFp8(string name) => fp8 && name.StartsWith("model.layers.", StringComparison.Ordinal) && name.EndsWith("_proj.weight", StringComparison.Ordinal);
        var header = new Dictionary<string, object>();
        long offset = 0;
        foreach (var t in tensors)
        {
            long bytes = (IsFp8(t.Name) ? 1L : 2L) * t.Rows * t.Cols;
            object shape = t.Norm ? new[] { t.Cols } : new[] { t.Rows, t.Cols };
            header[t.Name] = new { dtype = IsFp8(t.Name) ? "F8_E4M3" : "BF16", shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
            if (IsFp8(t.Name))
            {
                header[t.Name[..^".weight".Length] + ".weight_scale"] = new { dtype = "F32", shape = new[] { t.Rows, 1 }, data_offsets = new[] { offset, offset + 4L * t.Rows } };
                offset += 4L * t.Rows;
            }
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) & ~7;
        using (var f = new FileStream(Path.Combine(dir, "model.safetensors"), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            f.Write(BitConverter.GetBytes((ulong)padded));
            f.Write(json);
            for (int i = json.Length; i < padded; i++) f.WriteByte((byte)' ');
            ulong seed = 1;
            foreach (var t in tensors)
            {
                long elements = (long)t.Rows * t.Cols;
                using var buf = t.Norm ? Ones(elements) : NativeBuffer.RandomWeights(DType.BF16, elements, seed++, range: 0.05f);
                if (IsFp8(t.Name))
                {
                    // compressed-tensors' FP8 (minmax, symmetric): scale = max|w| / 448 per row, code = E4M3(w / scale).
                    var codes = new byte[t.Cols];
                    var scales = new float[t.Rows];
                    var w = new WeightMatrix((nint)buf.Pointer, DType.BF16, t.Rows, t.Cols);
                    for (int r = 0; r < t.Rows; r++)
                    {
                        scales[r] = EncodeFp8Row(w, r, codes);
                        f.Write(codes);
                    }
                    f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(scales.AsSpan()));
                    continue;
                }
                for (long o = 0; o < buf.Bytes; o += 1 << 30)
                    f.Write(new ReadOnlySpan<byte>(buf.Pointer + o, (int)Math.Min(1 << 30, buf.Bytes - o)));
            }
        }
        var config = new Dictionary<string, object>
        {
            ["architectures"] = new[] { "LlamaForCausalLM" },
            ["model_type"] = "llama",
            ["hidden_size"] = h,
            ["intermediate_size"] = m.Intermediate,
            ["num_hidden_layers"] = m.Layers,
            ["num_attention_heads"] = m.Heads,
            ["num_key_value_heads"] = m.KvHeads,
            ["vocab_size"] = m.Vocab,
            ["rms_norm_eps"] = 1e-5,
            ["rope_theta"] = 10000.0,
            ["max_position_embeddings"] = 2048,
            ["tie_word_embeddings"] = false,
            ["torch_dtype"] = "bfloat16",
            ["bos_token_id"] = 1,
            ["eos_token_id"] = 2,
        };
        if (fp8)
        {
            config["quantization_config"] = new Dictionary<string, object?>
            {
                ["quant_method"] = "compressed-tensors",
                ["format"] = "float-quantized",
                ["config_groups"] = new Dictionary<string, object>
                {
                    ["group_0"] = new Dictionary<string, object?>
                    {
                        ["targets"] = new[] { "Linear" },
                        ["weights"] = new Dictionary<string, object?> { ["num_bits"] = 8, ["type"] = "float", ["symmetric"] = true, ["strategy"] = "channel", ["dynamic"] = false },
                        ["input_activations"] = new Dictionary<string, object?> { ["num_bits"] = 8, ["type"] = "float", ["symmetric"] = true, ["strategy"] = "token", ["dynamic"] = true },
                        ["output_activations"] = null,
                    },
                },
                ["ignore"] = new[] { "lm_head" },
                ["kv_cache_scheme"] = null,
            };
        }
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(config, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Row <paramref name="r"/> of <paramref name="w"/> as E4M3 codes (compressed-tensors' FP8: scale = max|w| / 448); returns the scale.</summary>
    public static float EncodeFp8Row(in WeightMatrix w, int r, Span<byte> codes)
    {
        float amax = 0;
        for (int c = 0; c < w.Cols; c++) amax = Math.Max(amax, Math.Abs(w[r, c]));
        float scale = amax > 0 ? amax / Fp8E4M3.MaxFinite : 1f;
        for (int c = 0; c < w.Cols; c++) codes[c] = Fp8E4M3.FromSingle(w[r, c] / scale);
        return scale;
    }

    private static NativeBuffer Ones(long elements)
    {
        var b = new NativeBuffer(elements * 2);
        for (long i = 0; i < elements; i++) ((ushort*)b.Pointer)[i] = 0x3F80; // 1.0 in bf16
        return b;
    }
}
