# Random-weight bf16 Llama checkpoints with the exact shapes of Llama-3.2-1B and Llama-3-8B (no download).
# Usage (GPU machine): python3 bench/peers/make_checkpoint.py 1b|8b OUT_DIR
# As a module: build_model("8b") returns the model on the GPU without saving (what the peers use).
import sys, time, torch
from transformers import AutoModelForCausalLM, LlamaConfig

SHAPES = {
    # Llama-3.2-1B: tied embeddings, llama3 RoPE scaling, 128k positions.
    "1b": dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
               num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
               tie_word_embeddings=True,
               rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                             "original_max_position_embeddings": 8192}),
    # Llama-3-8B: untied LM head, plain RoPE, 8k positions.
    "8b": dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
               num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=8192,
               tie_word_embeddings=False),
}


def config(shape):
    return LlamaConfig(rms_norm_eps=1e-5, bos_token_id=128000, eos_token_id=128001, rope_theta=500000.0,
                       torch_dtype="bfloat16", **SHAPES[shape])


def build_model(shape, attn="sdpa", seed=0):
    torch.manual_seed(seed)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config(shape), dtype=torch.bfloat16, attn_implementation=attn)
    return model.eval()


if __name__ == "__main__":
    shape, out = sys.argv[1], sys.argv[2]
    t = time.time()
    m = build_model(shape)
    m.save_pretrained(out)
    print(f"saved {out}: {sum(p.numel() for p in m.parameters()) / 1e9:.3f} B params, shape {shape}, {time.time() - t:.1f} s")
