# Writes a random-weight bf16 checkpoint with Llama-3.2-1B's shape (for decode benchmarks; no download needed).
# Usage (GPU machine): python3 bench/GpuCheck/make_random_checkpoint.py /tmp/llama1b
import sys, torch
from transformers import AutoModelForCausalLM, LlamaConfig

out = sys.argv[1]
cfg = LlamaConfig(
    vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
    num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
    rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=128000, eos_token_id=128001,
    rope_theta=500000.0,
    rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192},
)
torch.manual_seed(0)
with torch.device("cuda"):
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
model.save_pretrained(out)
print("saved", out, sum(p.numel() for p in model.parameters()) / 1e9, "B params")
