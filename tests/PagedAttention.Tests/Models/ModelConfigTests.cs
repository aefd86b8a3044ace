using System.Text.Json.Nodes;
using PagedAttention.AI.Models;

namespace PagedAttention.Tests.Models;

public sealed class ModelConfigTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pa-cfg-" + Guid.NewGuid().ToString("N"));

    public ModelConfigTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ModelConfig Write(JsonObject cfg, string? generationConfig = null)
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), cfg.ToJsonString());
        if (generationConfig is not null) File.WriteAllText(Path.Combine(_dir, "generation_config.json"), generationConfig);
        return ModelConfig.Load(_dir);
    }

    private static JsonObject Base(string arch = "LlamaForCausalLM") => new()
    {
        ["architectures"] = new JsonArray(arch), ["hidden_size"] = 64, ["intermediate_size"] = 128, ["num_hidden_layers"] = 2,
        ["num_attention_heads"] = 4, ["vocab_size"] = 100, ["eos_token_id"] = 2,
    };

    [Fact]
    public void LegacyRopeScalingEqualsRopeParameters()
    {
        var legacy = Base();
        legacy["rope_theta"] = 500000.0;
        legacy["rope_scaling"] = new JsonObject { ["rope_type"] = "llama3", ["factor"] = 32.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 8192 };
        var a = Write(legacy);
        var modern = Base();
        modern["rope_parameters"] = new JsonObject { ["rope_type"] = "llama3", ["rope_theta"] = 500000.0, ["factor"] = 32.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 8192 };
        var b = Write(modern);
        Assert.Equal(RopeType.Llama3, a.Rope.Type);
        Assert.Equal(a.Rope, b.Rope);
        var inv = a.Rope.InverseFrequencies(64);
        // The highest frequency is untouched, the lowest divided by the factor (Llama 3.1's scheme).
        Assert.Equal(1f, inv[0]);
        Assert.Equal(1f / MathF.Pow(500000f, 62f / 64f) / 32f, inv[31], 1e-12f);
    }

    [Fact]
    public void DefaultsAndGenerationConfigEos()
    {
        var c = Write(Base("Qwen2ForCausalLM"), "{\"eos_token_id\": [7, 8]}");
        Assert.Equal(4, c.NumKvHeads);
        Assert.Equal(16, c.HeadDim);
        Assert.True(c.QkvBias);
        Assert.False(c.OBias);
        Assert.Equal([7, 8], c.EosTokenIds);
        Assert.Equal(RopeType.Default, c.Rope.Type);
    }

    [Fact]
    public void MistralSlidingWindowCapsTheContext()
    {
        var cfg = Base("MistralForCausalLM");
        cfg["max_position_embeddings"] = 32768;
        cfg["sliding_window"] = 4096;
        Assert.Equal(4096, Write(cfg).MaxPositionEmbeddings);
    }

    [Fact]
    public void HeadsNotMultipleOfKvHeads()
    {
        var cfg = Base();
        cfg["num_key_value_heads"] = 3;
        Assert.Contains("num_key_value_heads", Assert.Throws<ModelLoadException>(() => Write(cfg)).Message);
    }
}
